"""Layers in one direction (issue 11 item 5): clients, history and checkers at the bottom;
cluster, faults and scenario above them; suites, the chaos runner, the CLI and the pytest plugin
on top. Checked by scanning every import statement of the tree with ``ast`` — module level or
inside a function, absolute or relative — so a lazy import cannot slip through.

The contracts (``CONTRACTS``):
1. nothing in the harness library (harness/, except harness/plugin.py and harness/cli*.py)
   imports ``chaos``, ``harness.plugin`` or the CLI (``harness.cli``, ``harness.cli_*``);
2. nothing under chaos/ imports ``harness.plugin`` (the runner records through harness.session);
3. checkers, clients and the history import nothing from ``harness.cluster``,
   ``harness.faults`` or ``harness.scenario`` (nor anything above them).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = ("chaos", "harness.plugin", "harness.cli", "harness.cli_*")


@dataclass(frozen=True)
class Contract:
    name: str
    applies: Callable[[str], bool]   # module name -> is it bound by this contract?
    forbidden: tuple[str, ...]       # modules: "x" matches x and x.*; "x_*" any name starting with "x_"


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


CONTRACTS = [
    Contract("the harness library imports neither the chaos runner nor the pytest plugin or the CLI",
             lambda m: _in(m, "harness") and not _matches(m, ("harness.plugin", "harness.cli", "harness.cli_*")), TOP),
    Contract("the chaos runner imports nothing from the pytest plugin",
             lambda m: _in(m, "chaos"), ("harness.plugin",)),
    Contract("checkers, clients and the history import nothing from cluster, faults or scenario",
             lambda m: _in(m, "harness.checkers", "harness.clients", "harness.history"),
             ("harness.cluster", "harness.faults", "harness.scenario", "harness.observers", "harness.probes",
              "harness.workload", *TOP)),
]


def _matches(name: str, prefixes) -> bool:
    for p in prefixes:
        if p.endswith("*"):
            if name.startswith(p[:-1]):
                return True
        elif name == p or name.startswith(p + "."):
            return True
    return False


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``source`` of ``module``. ``from X import y``
    yields X and X.y (y may be a submodule); relative imports are resolved."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if node.module or not node.level:
                out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names if a.name != "*"]
    return out


def violations(source: str, module: str, is_package: bool = False, contracts=CONTRACTS) -> list[str]:
    found = []
    for c in contracts:
        if not c.applies(module):
            continue
        for line, name in imports(source, module, is_package):
            if _matches(name, c.forbidden):
                found.append(f"{module}:{line} imports {name} ({c.name})")
    return found


def tree() -> list[Path]:
    return sorted(p for d in ("harness", "chaos") for p in (ROOT / d).rglob("*.py"))


# ------------------------------------------------------------------ the tree

def test_the_tree_keeps_its_layers():
    found = []
    for p in tree():
        found += violations(p.read_text(), module_name(p), p.name == "__init__.py")
    assert not found, "layer violations:\n" + "\n".join(found)


def test_the_cli_pattern_does_not_swallow_the_clients():
    assert _matches("harness.cli_certify", TOP) and _matches("harness.cli", TOP)
    assert not _matches("harness.clients.imap", TOP) and not _matches("harness.clients", TOP)


def test_the_scan_sees_the_whole_library():
    mods = {module_name(p) for p in tree()}
    assert {"harness.faults", "harness.scenario", "harness.history", "harness.checkers.messages",
            "harness.clients.toxiproxy", "chaos.runner", "chaos.schedule"} <= mods
    assert "chaos.faults" not in mods and "chaos.toxiproxy" not in mods  # moved into the harness library


# ------------------------------------------------------------------ the check fails when it must

RUNNER = ROOT / "chaos" / "runner.py"


def _with(source: str, line: str, at_function: bool = False) -> str:
    lines = source.splitlines()
    if at_function:  # a lazy import inside the first function
        i = next(k for k, l in enumerate(lines) if l.startswith("def "))
        return "\n".join(lines[:i + 1] + ["    " + line] + lines[i + 1:])
    i = next(k for k, l in enumerate(lines) if l.startswith("from __future__")) + 1
    return "\n".join(lines[:i] + [line] + lines[i:])


@pytest.mark.parametrize("line,lazy", [
    ("from harness.plugin import Checks", False),
    ("from harness.plugin import Checks, Evidence", True),
    ("import harness.plugin", False),
    ("from harness import plugin", False),
    ("from harness import plugin as p", True),
])
def test_adding_a_plugin_import_to_the_runner_fails_the_check(line, lazy):
    source = RUNNER.read_text()
    modified = _with(source, line, lazy)
    found = violations(modified, "chaos.runner")
    assert any("harness.plugin" in v and "chaos runner imports nothing from the pytest plugin" in v for v in found), found


@pytest.mark.parametrize("module,line,words", [
    ("harness.scenario", "from chaos.faults import Nemesis", "imports chaos.faults"),
    ("harness.scenario", "from chaos import runner", "imports chaos"),
    ("harness.report.page", "from ..plugin import Evidence", "imports harness.plugin"),
    ("harness.faults", "from .cli import main", "imports harness.cli"),
    ("harness.faults", "from harness.cli_certify import certify", "imports harness.cli_certify"),
    ("harness.checkers.messages", "from ..faults import CATALOGUE", "imports harness.faults"),
    ("harness.checkers.messages", "from ..scenario import Scenario", "imports harness.scenario"),
    ("harness.clients.imap", "from harness.cluster import Cluster", "imports harness.cluster"),
    ("harness.history", "from .faults import Nemesis", "imports harness.faults"),
])
def test_each_contract_catches_its_violation(module, line, words):
    path = ROOT / (module.replace(".", "/") + ".py")
    source = path.read_text() if path.exists() else "from __future__ import annotations\n"
    found = violations(_with(source, line), module)
    assert any(words in v for v in found), found


@pytest.mark.parametrize("module,line", [
    ("harness.plugin", "from chaos import runner"),            # the plugin is on top
    ("harness.cli", "from chaos import cli"),
    ("harness.checkers.messages", "from .faults import check"),  # the faults *checker*, a sibling
    ("harness.scenario", "from .faults import Nemesis"),
    ("chaos.runner", "from harness.session import Checks"),
])
def test_allowed_imports_are_not_flagged(module, line):
    assert violations(_with("from __future__ import annotations\n", line), module) == []


def test_relative_imports_are_resolved():
    src = "from . import docker\nfrom ..history import History\nfrom .faults import Nemesis\n"
    names = {n for _, n in imports(src, "harness.checkers.x")}
    assert {"harness.checkers.docker", "harness.history", "harness.history.History",
            "harness.checkers.faults"} <= names
    assert {n for _, n in imports("from . import faults\n", "harness", is_package=True)} >= {"harness.faults"}
