"""The layer contract (.importlinter) covers every module, and the pure engine
imports nothing but the standard library."""

from __future__ import annotations

import ast
import configparser
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / ".importlinter"
ENGINE = ROOT / "matching" / "engine"
# Not layered: Django's app configs and migrations (they import nothing of ours
# but core.append_only) and the packages' own __init__ files.
UNLAYERED = ("apps", "migrations")


def _contract() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(inline_comment_prefixes=None)
    parser.read(CONTRACT)
    return parser


def _layer_modules() -> set[str]:
    layers = _contract()["importlinter:contract:layers"]["layers"]
    names: set[str] = set()
    for line in layers.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.update(part.strip() for part in line.replace("|", ":").split(":"))
    return names


def _project_modules() -> list[str]:
    roots = [r.strip() for r in _contract()["importlinter"]["root_packages"].split() if r.strip()]
    modules = []
    for root in roots:
        for path in (ROOT / root).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                continue
            if any(part in UNLAYERED for part in parts[1:]):
                continue
            modules.append(".".join(parts))
    return sorted(modules)


def test_every_module_is_in_a_layer():
    layers = _layer_modules()
    unlayered = [m for m in _project_modules() if not any(m == layer or m.startswith(layer + ".") for layer in layers)]
    assert unlayered == [], f"add these modules to a layer in .importlinter: {unlayered}"


def test_the_engine_imports_only_the_standard_library():
    foreign = []
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            foreign += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in sys.stdlib_module_names]
    assert foreign == []
