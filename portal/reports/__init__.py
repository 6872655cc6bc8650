"""The reconciliation report pages (gated: admins of accounts with the integration enabled)."""
