"""Lint as CI runs it: ruff (check and format) over the Python, ESLint over static/js.

The settings are the project's own: `[tool.ruff]` in pyproject.toml and eslint.config.js.
ruff is pinned in the test extra, ESLint in package-lock.json (scripts/install --test runs
`npm ci`). A finding fails the test with the linter's own report.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


def run(*command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_eslint_is_clean_on_static_js():
    if not ESLINT.exists():
        if os.environ.get("CI") or shutil.which("npm"):
            pytest.fail("ESLint is not installed: run scripts/install --test (npm ci)")
        pytest.skip("npm is not installed on this machine; CI installs it (scripts/install)")
    run(str(ESLINT), "--max-warnings", "0", "static/js")
