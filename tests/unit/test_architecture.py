"""The direction of dependencies, read from the imports: core <- adapters <- use cases <- entry points.

- core: settings, database, models, encryption, logging, the job queue, embedded stores, and
  the pure 1-on-1 rules (filters); they import nothing else of ours.
- adapters: what talks to Microsoft, keeps the audit chain, writes calendar rows, and the
  Services that bundle them; they import only core and each other.
- use cases: linking, the sync, the 1-on-1s, what HR admins run, reading the audit log.
- entry points: the app factory, the web layer, the CLI and the RQ jobs.

A module may import its own layer or a lower one, never a higher one; listening/ never imports
jobs/, emulator/ or tests/, and only the entry points import Flask. Every module of listening/
and jobs/ must be placed in exactly one layer (a new module fails this test until it is).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE, ADAPTERS, USE_CASES, ENTRY = range(4)
NAMES = {CORE: "core", ADAPTERS: "adapters", USE_CASES: "use cases", ENTRY: "entry points"}
# Longest prefix wins.
LAYERS = {
    "listening.core": CORE,
    "listening.filters": CORE,
    "listening.outlook.events": CORE,
    "listening.services": ADAPTERS,
    "listening.audit": ADAPTERS,
    "listening.audit.chain": ADAPTERS,
    "listening.audit.refusals": ADAPTERS,
    "listening.outlook": ADAPTERS,
    "listening.outlook.graph": ADAPTERS,
    "listening.outlook.identity": ADAPTERS,
    "listening.outlook.tokens": ADAPTERS,
    "listening.outlook.connection": ADAPTERS,
    "listening.sync.store": ADAPTERS,
    "listening.notifications.store": ADAPTERS,
    "listening.api.schemas": CORE,
    "listening.webhooks.outbox": ADAPTERS,
    "listening.webhooks.dispatch": ADAPTERS,
    "listening.webhooks.queueing": ADAPTERS,
    "listening.webhooks.signing": ADAPTERS,
    "listening.webhooks.transport": ADAPTERS,
    "listening.api.keys": USE_CASES,
    "listening.api.reading": USE_CASES,
    "listening.webhooks": USE_CASES,
    "listening.audit.log": USE_CASES,
    "listening.outlook.linking": USE_CASES,
    "listening.sync": USE_CASES,
    "listening.one_on_ones": USE_CASES,
    "listening.admin": USE_CASES,
    "listening.notifications": USE_CASES,
    "listening": ENTRY,
    "listening.web": ENTRY,
    "listening.api": ENTRY,
    "listening.cli": ENTRY,
    "jobs": ENTRY,
}
FLASK = ("flask", "flask_wtf", "werkzeug", "authlib.integrations.flask_client")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return best[1] if best else None


def imports_of(path: Path) -> set[str]:
    """Every module the file imports, at any depth (function-level and TYPE_CHECKING included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from pkg import module` imports the module, not pkg's body
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in OURS else node.module)
    return found


SOURCES = sorted(p for folder in ("listening", "jobs") for p in (ROOT / folder).rglob("*.py"))
OURS = {module_name(p) for p in SOURCES}


def test_every_module_has_a_layer():
    assert [m for m in sorted(OURS) if layer_of(m) is None] == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_only_down(path):
    importer = module_name(path)
    mine = layer_of(importer)
    upward, forbidden = [], []
    for imported in imports_of(path):
        top = imported.split(".")[0]
        if importer.startswith("listening") and top in ("jobs", "emulator", "tests", "tools", "bench"):
            forbidden.append(imported)
        if mine < ENTRY and (imported in FLASK or imported.split(".")[0] in ("flask", "flask_wtf")):
            forbidden.append(imported)
        if imported in OURS and layer_of(imported) > mine:
            upward.append(f"{imported} ({NAMES[layer_of(imported)]})")
    assert upward == [], f"{importer} ({NAMES[mine]}) imports upward"
    assert forbidden == [], f"{importer} ({NAMES[mine]}) imports what it must not"


def test_the_rule_can_fail():
    """The check above is only worth something if an upward import is caught."""
    assert layer_of("listening.sync.mailbox") > layer_of("listening.outlook.graph")
    assert layer_of("listening.web.pages") == ENTRY and layer_of("listening.core.db") == CORE


def test_only_the_web_layer_and_the_factory_read_current_app():
    """Dependencies are passed in: use cases, jobs and commands are given their Services."""
    readers = []
    for path in SOURCES:
        module = module_name(path)
        if module in ("listening", "listening.web") or module.startswith("listening.web."):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(node, ast.ImportFrom) and any(a.name == "current_app" for a in node.names)
               or isinstance(node, ast.Attribute) and node.attr == "current_app" for node in ast.walk(tree)):
            readers.append(module)
    assert readers == []
