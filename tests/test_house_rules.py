"""House rules the linters do not know: modules stay small enough to read in one sitting, and tests share code
through tests/helpers/, never by importing a conftest.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("player", "sync", "bench")
MAX_LINES = 400
"""A module past this is split by responsibility (shared/HOUSE-STYLE.md, docs/architecture.md)."""
SHRINK_ONLY = {
    "player/offline_queue/journal.py": 454,
}
"""Modules already over the limit when the rule came in (issue 11 splits them): each may only shrink. Lower a
number when its module shrinks; remove the line once it is under the limit."""


def line_counts() -> dict[str, int]:
    return {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def over_the_limit(counts: dict[str, int], shrink_only: dict[str, int]) -> list[str]:
    """What breaks the rule, one sentence each: a module over the limit, or a listed one that grew."""
    problems: list[str] = []
    for module, lines in sorted(counts.items()):
        ceiling = shrink_only.get(module, MAX_LINES)
        if lines > ceiling:
            if module in shrink_only:
                problems.append(f"{module} grew to {lines} lines (at most {ceiling}: it may only shrink); split it")
            else:
                problems.append(f"{module} has {lines} lines (at most {MAX_LINES}); split it by responsibility")
    return problems


def test_no_module_is_longer_than_the_house_allows() -> None:
    assert over_the_limit(line_counts(), SHRINK_ONLY) == []


def test_every_listed_module_exists_and_is_still_over_the_limit() -> None:
    # A stale line would let a module that shrank grow back past the limit unnoticed.
    counts = line_counts()
    stale = [m for m in SHRINK_ONLY if counts.get(m, 0) <= MAX_LINES]
    assert stale == [], f"remove these from SHRINK_ONLY: {stale}"


def test_the_rule_names_a_module_that_grew_and_one_that_is_new() -> None:
    counts = {"sync/new.py": 401, "sync/old.py": 500, "sync/fine.py": 400}
    assert over_the_limit(counts, {"sync/old.py": 450}) == [
        "sync/new.py has 401 lines (at most 400); split it by responsibility",
        "sync/old.py grew to 500 lines (at most 450: it may only shrink); split it",
    ]


# ---- tests share code through tests/helpers/ -----------------------------------------------------------------

TESTS = ROOT / "tests"


def conftest_imports(source: str, module: str) -> list[str]:
    """Each import in `source` (the file `module`) that reaches into a conftest, one sentence each.

    pytest loads conftest.py files itself, once per folder; importing one as a module loads it again under another
    name (its session fixtures then run twice) and ties the importer to a folder's set-up.
    """
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[-1] == "conftest":
                problems.append(
                    f"{module}:{node.lineno} imports from {name}; move what it needs into tests/helpers/ and import "
                    "it from there"
                )
    return problems


def helpers_in_conftest(source: str, module: str) -> list[str]:
    """Each class or plain function a conftest.py defines: those belong in tests/helpers/ (fixtures, pytest hooks
    and private names the fixtures keep to themselves are fine)."""
    problems: list[str] = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name.startswith(("_", "pytest_")) or any("fixture" in ast.unparse(d) for d in node.decorator_list):
            continue
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        problems.append(f"{module}:{node.lineno} defines {kind} {node.name}; move it into tests/helpers/")
    return problems


def test_no_test_module_imports_from_a_conftest() -> None:
    problems = [
        problem
        for path in sorted(TESTS.rglob("*.py"))
        for problem in conftest_imports(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    ]
    assert problems == []


def test_conftest_files_hold_only_fixtures_and_hooks() -> None:
    problems = [
        problem
        for path in sorted(TESTS.rglob("conftest.py"))
        for problem in helpers_in_conftest(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    ]
    assert problems == []


def test_the_rules_name_the_module_that_imports_a_conftest_and_what_a_conftest_should_not_define() -> None:
    importer = (
        "from tests.sync.server.conftest import Demo\nimport tests.e2e.conftest\nfrom tests.helpers import clock\n"
    )
    assert conftest_imports(importer, "tests/player/test_x.py") == [
        "tests/player/test_x.py:1 imports from tests.sync.server.conftest; move what it needs into tests/helpers/ "
        "and import it from there",
        "tests/player/test_x.py:2 imports from tests.e2e.conftest; move what it needs into tests/helpers/ "
        "and import it from there",
    ]
    conftest = (
        "import pytest\n"
        "class Demo: ...\n"
        "def bearer(token): ...\n"
        "def _state(): ...\n"
        "def pytest_sessionfinish(session): ...\n"
        "@pytest.fixture\ndef demo(): ...\n"
        "@pytest.fixture(scope='session')\ndef template(): ...\n"
    )
    assert helpers_in_conftest(conftest, "tests/conftest.py") == [
        "tests/conftest.py:2 defines class Demo; move it into tests/helpers/",
        "tests/conftest.py:3 defines function bearer; move it into tests/helpers/",
    ]
