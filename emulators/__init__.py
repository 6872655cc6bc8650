"""Local stand-ins for the external services the product talks to.

`emulators.qbo` plays Intuit OAuth and the QuickBooks Online Accounting API, `emulators.fusebill`
plays the Fusebill REST API v1, and `emulators.sampledata` generates representative Fusebill data
together with the accounting oracle the sync is judged against.

These packages never import `portal` or `jobs`: they are an honest stand-in for the real services,
built from the facts in the reference documents, not from what our own code happens to send.
"""
