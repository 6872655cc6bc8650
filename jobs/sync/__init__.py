"""The sync engine: Fusebill → QuickBooks Online, one customer as the unit of state and failure.

The flow, one module per step:
  runs.py      a run's life: created pinned to (environment, realm, connection), queued, finished
  plan.py      which customers a run syncs (changes since the cursor + records waiting for a retry)
  fetch.py     Fusebill reads: account-wide lists by modifiedTimestamp, per customer only what no
               list carries (invoice lines, AR activities), paced by a shared Redis limiter
  mapping/     pure: Fusebill records → QBO documents (payloads with references), per entity type
  write.py     QBO writes in dependency waves, batched across the customers of a chunk (≤ 30 per
               batch), requestid per intent, no call when the payload hash is unchanged
  links.py     the link table (Fusebill record → QBO document) and marker-based re-linking
  outcomes.py  every record's one visible state: synced / pending / failed / skipped
  jobs.py      the RQ entry points (ids in, nothing else)
"""
