"""The Customers page (gated in portal.gate: admins of accounts with the integration enabled).

A reviewable list of the Fusebill customers with their likely QuickBooks match, where the admin
chooses create / link / don't sync per customer or in bulk (portal/services/matching.py); *Find
matches* queues the job that finds them (jobs/matching.py). Page GETs only read.
"""
