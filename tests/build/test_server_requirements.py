"""The server installed on its own (deploy/server-requirements.txt, then `pip install --no-deps .`): the file pins
what pyproject.toml pins, and nothing it installs or the server imports is PySide6.

Fast: no bundle. The server's code runs in a child Python whose import system refuses PySide6 and shiboken6 (a
sitecustomize on PYTHONPATH installs the refusing finder before anything else is imported), as on a server where
they were never installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sync.version import VERSION
from tests.helpers.bundles import REPO

REQUIREMENTS = REPO / "deploy" / "server-requirements.txt"
QT = {"pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6"}

# Installed first in the child: refuses the Qt modules and notes every attempt (even one a `try:` would swallow).
REFUSE_QT = """
import importlib.abc, os, sys

class RefuseQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6"):
            with open(os.environ["REFUSED_LOG"], "a", encoding="utf-8") as log:
                log.write(name + "\\n")
            raise ImportError(f"{name} is refused here: the server must run without it")
        return None

sys.meta_path.insert(0, RefuseQt())
"""

# The server's two entry points, `init` on a fresh SQLite file (Alembic loads every migration), then what it loaded.
SERVER_RUN = """
import contextlib, importlib.metadata, io, json, sys
from sync.server.app import create_app
from sync.server.cli import main

out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    main(["--version"])
version = out.getvalue().strip()
init = main(["--db", sys.argv[1], "init"])
try:
    import PySide6
    refused = False
except ImportError:
    refused = True
owners = importlib.metadata.packages_distributions()
dists = sorted({d for m in list(sys.modules) for d in owners.get(m.split(".")[0], ())})
print(json.dumps({"version": version, "init": init, "refused": refused, "create_app": callable(create_app),
                  "distributions": dists}))
"""


def pins(lines: list[str]) -> dict[str, Requirement]:
    """Requirement lines by canonical name (comments, blank lines and pip options left out)."""
    found: dict[str, Requirement] = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text and not text.startswith("-"):
            requirement = Requirement(text)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def pyproject_pins() -> tuple[dict[str, Requirement], dict[str, Requirement]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return pins(project["dependencies"]), pins(project["optional-dependencies"]["server"])


def requirement_file_pins() -> dict[str, Requirement]:
    return pins(REQUIREMENTS.read_text(encoding="utf-8").splitlines())


@pytest.fixture(scope="module")
def server_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """What the server's code did and loaded in a Python that refuses PySide6."""
    folder = tmp_path_factory.mktemp("no-qt")
    (folder / "sitecustomize.py").write_text(REFUSE_QT, encoding="utf-8")
    refused_log = folder / "refused.log"
    refused_log.touch()
    result = subprocess.run(
        [sys.executable, "-c", SERVER_RUN, str(folder / "server.db")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(folder),
            "PYTHONPATH": f"{folder}:{REPO}",
            "REFUSED_LOG": str(refused_log),
        },
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    report["attempts"] = refused_log.read_text(encoding="utf-8").split()
    return report


def test_server_runs_where_pyside6_cannot_be_imported(server_run: dict[str, object]) -> None:
    assert server_run["refused"] is True, "the child could import PySide6: the refusing finder is not in place"
    attempts = server_run["attempts"]
    assert isinstance(attempts, list)
    # The refused test import above is the only attempt: the server's own code never tried.
    assert attempts == ["PySide6"], f"the server's code tried to import {sorted(set(attempts))}"
    assert server_run["version"] == f"invigil-server {VERSION}"
    assert server_run["init"] == 0
    assert server_run["create_app"] is True


def test_server_requirements_pin_exactly_what_pyproject_pins() -> None:
    base, server = pyproject_pins()
    listed = requirement_file_pins()
    assert not QT & set(listed), "the server's requirements must not name Qt"
    # The whole server extra, as pinned there.
    assert {name: str(listed.get(name)) for name in server} == {name: str(req) for name, req in server.items()}
    # Everything else is a base dependency, pinned as pyproject.toml pins it.
    others = {name: str(req) for name, req in listed.items() if name not in server}
    assert others == {name: str(base[name]) for name in others if name in base}, "a pin that pyproject lacks"


def test_server_requirements_name_every_base_dependency_the_server_imports(server_run: dict[str, object]) -> None:
    base, _ = pyproject_pins()
    distributions = server_run["distributions"]
    assert isinstance(distributions, list)
    imported = {canonicalize_name(name) for name in distributions}
    assert "fastapi" in imported, "the scan of loaded modules found none of the server's libraries"
    missing = (imported & set(base)) - set(requirement_file_pins())
    assert not missing, f"the server imports {sorted(missing)}: add pyproject.toml's pin to {REQUIREMENTS.name}"


def test_nothing_the_server_requirements_install_depends_on_qt() -> None:
    # What pip would resolve, read from the metadata of the tested venv's packages (the versions constraints.txt
    # pins): every requirement followed through its dependencies and extras, markers evaluated for this machine.
    visited: set[tuple[str, frozenset[str]]] = set()
    pending = [(name, frozenset(req.extras)) for name, req in requirement_file_pins().items()]
    while pending:
        name, extras = pending.pop()
        if (name, extras) in visited:
            continue
        visited.add((name, extras))
        for text in importlib.metadata.requires(name) or []:
            dependency = Requirement(text)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in environments):
                pending.append((canonicalize_name(dependency.name), frozenset(dependency.extras)))
    seen = {name for name, _ in visited}
    assert {"uvicorn", "pydantic-core"} <= seen, "the walk did not follow the dependencies"
    assert not QT & seen
