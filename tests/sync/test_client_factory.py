"""One way to build a client: every production module (player, console, bench) goes through sync.client.client_for,
so none can leave out the machine id or the school's CA bundle again."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("player", "bench", "sync")
ALLOWED = {Path("sync/client/__init__.py")}  # client_for itself
SERVER = Path("sync/server")  # the server never builds a client


def constructions(path: Path) -> list[int]:
    """Lines where `path` calls InvigilClient(...) directly."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "InvigilClient")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "InvigilClient")
        )
    ]


def test_only_client_for_builds_an_invigil_client_in_production_code() -> None:
    found: list[str] = []
    scanned = 0
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative in ALLOWED or SERVER in relative.parents:
                continue
            scanned += 1
            found += [f"{relative}:{line}" for line in constructions(path)]
    assert scanned > 50, "the scan found the production modules"
    assert found == [], f"build clients with sync.client.client_for instead: {found}"


def test_the_scan_sees_a_direct_construction(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from sync.client import InvigilClient\nc = InvigilClient('http://x')\nimport sync\n"
        "d = sync.client.InvigilClient('y')\ne = client_for('z', machine_id=None, timeout=1, ca_bundle=None)\n",
        encoding="utf-8",
    )
    assert constructions(probe) == [2, 4]
