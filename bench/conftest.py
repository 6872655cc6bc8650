"""Benchmarks reuse the test suite's fixtures (private Redis, databases, emulators)."""
from tests.conftest import *  # noqa: F401,F403
from tests.integration.conftest import enabled, fusebill_production, fusebill_staging, qbo, settings_overrides  # noqa: F401
