"""The layering the project keeps (docs/architecture.md), checked on every run.

The import contracts live in pyproject.toml under [tool.importlinter]; this
test runs import-linter over them, and checks that every module of the
inpainting package sits in one of its two layers (service or core), so a new
module cannot slip past the layers contract. A last check keeps every OLPE_
setting's default in olpe_site/settings.py alone.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("museum", "inpainting", "gallery", "kiosk", "training", "olpe_site")


def test_the_import_contracts_hold():
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 broken" in completed.stdout


def test_every_inpainting_module_sits_in_a_layer():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(contract["layers"] for contract in contracts if contract["type"] == "layers")
    placed = {
        module.strip()
        for layer in layers
        for module in layer.split(":")
        if module.strip().startswith("inpainting.")
    }
    package = ROOT / "inpainting"
    modules = {
        f"inpainting.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert modules == placed


def test_settings_defaults_live_in_settings_py_alone():
    """Code reads settings.OLPE_X; a getattr with a default would be a second default."""
    second_defaults = [
        f"{path.relative_to(ROOT)}:{number}"
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"getattr\(\s*settings\s*,\s*[\"']OLPE_", line)
    ]
    assert second_defaults == []
