"""Apps import only downward: itsm ← cmdb ← incidents ← changes ← releases, agents on cmdb and
incidents. Checked on the source (ast), like import-linter's layers contract: a lower app gets
what a higher one adds to its pages through `itsm.registry`, never by importing it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ("itsm", "cmdb", "incidents", "changes", "releases", "agents")
#: What each app may import from the project's other apps.
MAY_IMPORT = {
    "itsm": set(),
    "cmdb": {"itsm"},
    "incidents": {"itsm", "cmdb"},
    "changes": {"itsm", "cmdb", "incidents"},
    "releases": {"itsm", "cmdb", "incidents", "changes", "agents"},
    "agents": {"itsm", "cmdb", "incidents"},
}


def imported_apps(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the file, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(app: str) -> list[str]:
    forbidden = set(PROJECT_APPS) - MAY_IMPORT[app] - {app}
    problems = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for line, package in imported_apps(path):
            if package in forbidden:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {package}")
    return problems


@pytest.mark.parametrize("app", [app for app in PROJECT_APPS if (ROOT / app).is_dir()])
def test_no_app_imports_a_higher_one(app):
    assert violations(app) == []


def test_the_check_sees_upward_imports(tmp_path, monkeypatch):
    """The check itself can fail: an upward import, even inside a function, is caught."""
    (tmp_path / "cmdb").mkdir()
    (tmp_path / "cmdb" / "views.py").write_text(
        "from . import selectors\nimport itsm.registry\n\ndef f():\n"
        "    from agents.selectors import ci_inventory_panel\n"
    )
    (tmp_path / "itsm").mkdir()
    (tmp_path / "itsm" / "views.py").write_text("import cmdb.selectors as s\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert violations("cmdb") == ["cmdb/views.py:5 imports agents"]
    assert violations("itsm") == ["itsm/views.py:1 imports cmdb"]
