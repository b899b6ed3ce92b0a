"""The layering the project keeps (docs/architecture.md), checked on every run.

The import contracts live in pyproject.toml under [tool.importlinter]; this
test runs import-linter over them, and checks that every package of the
project is one layer of the layers contract, so a new package cannot slip past
it. A last check keeps every OLPE_
setting's default in olpe_site/settings.py alone.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("inpainting_core", "museum", "inpainting", "tooling", "gallery", "kiosk", "training", "olpe_site")


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


def _packages() -> set[str]:
    """The project's own packages: top-level folders with an __init__.py, less tests and tools."""
    return {
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").exists() and path.name not in {"tests", "benchmarks"}
    }


def test_every_package_sits_in_a_layer():
    """A new package cannot slip past the contracts: each is a root package and one layer
    (or one sibling of a layer) as a whole, so no two packages can import each other."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(contract["layers"] for contract in config["contracts"] if contract["type"] == "layers")
    placed = [name.strip() for layer in layers for name in layer.split("|")]
    assert sorted(placed) == sorted(_packages())
    assert set(config["root_packages"]) == _packages()


def test_the_inpainting_core_uses_no_database():
    """import-linter cannot forbid a part of Django; the core's plain Python is checked here."""
    uses = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "inpainting_core").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"\s*(from|import)\s+django\.(db|contrib|http|urls|views)\b", line)
    ]
    assert uses == []


def test_no_package_imports_another_by_a_name_at_run_time():
    """A dynamic import (a module named in a setting) is a reach the contracts cannot see.

    The curators' model registry is handed down to the core instead
    (inpainting_core/model_registry.py); the core's engine registry imports its
    own engines lazily, by their module's place in the core.
    """
    from inpainting_core.engines import ENGINE_CLASSES

    lazy_engines = Path("inpainting_core/engines/__init__.py")
    dynamic = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in sorted(_packages())
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts and path.relative_to(ROOT) != lazy_engines
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bimport_module\(|\b__import__\(|import_string\(", line)
    ]
    assert dynamic == [], "import by name: hand the object down instead"
    # The one exception, the lazy engine registry, names engines of the core alone.
    assert all(path.startswith("inpainting_core.engines.") for path in ENGINE_CLASSES.values())


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
