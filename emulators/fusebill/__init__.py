"""A faithful local emulator of the Fusebill (Stax Bill) REST API v1, read side.

    from emulators.fusebill import create_app, FusebillEmulatorConfig
    app = create_app(FusebillEmulatorConfig(state_path=None, time_scale=1.0, environment_name="staging"))

or, in tests, `emulators.fusebill.testing.running_emulator()`; from a shell,
`python -m emulators.fusebill --port 8701 [--state-file PATH]`.

Module map: `api` (the /v1 routes), `control` (/_emulator), `commands` (the records command
language), `ledger` (balances by replaying records), `shapes` (every wire shape and every unverified
guess about one), `rules` (limits, timings and the issue #7 strictness rules: documented filters
per endpoint, list vs per-id shapes, modifiedTimestamp stamping, the X-MaxPageIndex and rate-reset
switches, each with its evidence), `query` (filters, sorting, paging), `store`
(accounts, persistence), `webhooks`, `ratelimit`. Data comes from `emulators.sampledata`.
"""
from emulators.fusebill.app import create_app
from emulators.fusebill.config import FusebillEmulatorConfig

__all__ = ["FusebillEmulatorConfig", "create_app"]
