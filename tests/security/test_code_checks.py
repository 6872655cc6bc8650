"""Lint rules and the type check over the product's code (issue #12 item 14): `ruff check` and `mypy`
on portal/ and jobs/, configured in pyproject.toml, must pass clean. The same commands as `make lint`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("portal", "jobs")


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=240)


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache", "--output-format", "concise", *CHECKED)
    assert result.returncode == 0, f"ruff check {' '.join(CHECKED)} failed:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"


def test_mypy_finds_nothing():
    result = _run("mypy", *CHECKED)
    assert result.returncode == 0, f"mypy {' '.join(CHECKED)} failed:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
    # "Success: no issues found in N source files": N proves the paths reached the code.
    checked = int(result.stdout.rsplit(" in ", 1)[1].split()[0])
    assert checked > 80, f"mypy checked only {checked} files: the paths are wrong"
