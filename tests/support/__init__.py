"""Helpers shared by the test packages (no fixtures here: those live in conftest.py files)."""
