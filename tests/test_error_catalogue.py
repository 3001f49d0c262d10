"""The error catalogue: numbers well-formed, unique and never reused; docs/errors.md generated from it; every
refusal code the server can send has an entry (found in the source, and seen on the wire with its number)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync import error_catalogue as catalogue
from sync.client import InvigilClient, Refused
from sync.error_catalogue import AREAS, ENTRIES, KEY_FORMAT, NUMBER_FORMAT, Problem, by_number, number_for
from sync.protocol import ErrorBody
from tests.helpers.live_server import LiveServer
from tests.helpers.server import API, Demo, bearer, envelope, player_login

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "tests" / "fixtures" / "error_numbers.txt"
DOCS = ROOT / "docs" / "errors.md"
REGENERATE = "python -m sync.error_catalogue --markdown > docs/errors.md"

DOCTOR_KEYS = (
    "config",
    "server",
    "tls",
    "api_version",
    "clock",
    "audio_output",
    "audio_tone",
    "disk_space",
    "wal",
    "keyring",
    "display",
    "unsent_results",
    "machine_name",
)
"""The doctor's check keys (the shared brief of issue 13): each has an entry doctor.<key>."""


# ---- the table itself ----------------------------------------------------------------------------------------


def test_numbers_and_keys_are_well_formed_and_unique() -> None:
    numbers = [e.number for e in ENTRIES]
    keys = [e.key for e in ENTRIES]
    assert [n for n in numbers if not NUMBER_FORMAT.fullmatch(n)] == []
    assert [k for k in keys if not KEY_FORMAT.fullmatch(k)] == []
    assert sorted({n for n in numbers if numbers.count(n) > 1}) == [], "a number is given twice"
    assert sorted({k for k in keys if keys.count(k) > 1}) == [], "a key has two entries"
    unexplained = [e.number for e in ENTRIES if not (e.summary.strip() and e.cause.strip() and e.fix.strip())]
    assert unexplained == [], "every entry says what happened, why, and what to do"


def test_areas_number_their_own_entries() -> None:
    assert [a.digit for a in AREAS] == list(range(1, 9))
    misplaced = [
        e.number
        for e in ENTRIES
        if e.key.startswith("doctor.") != (e.area.digit == 5) or (e.key.startswith("kiosk.") and e.area.digit != 6)
    ]
    assert misplaced == [], "doctor.* entries are 5xxx and nothing else is; kiosk.* are 6xxx (with kiosk's refusals)"


def test_no_number_is_ever_renumbered_removed_or_reused() -> None:
    frozen = dict(line.split() for line in FROZEN.read_text().splitlines() if line and not line.startswith("#"))
    now = {e.number: e.key for e in ENTRIES}
    changed = {n: (k, now.get(n)) for n, k in frozen.items() if now.get(n) != k}
    assert changed == {}, (
        f"numbers given before now mean another key, or are gone (number: (was, now)): {changed}. A number is "
        "stable forever: give the new key a new number and keep the old entry."
    )
    new = sorted(f"{n} {k}" for n, k in now.items() if n not in frozen)
    assert new == [], f"new numbers: append these lines to {FROZEN.relative_to(ROOT)}:\n" + "\n".join(new)


def test_every_doctor_check_has_an_entry() -> None:
    assert [k for k in DOCTOR_KEYS if catalogue.lookup(f"doctor.{k}") is None] == []
    assert number_for("doctor.clock").startswith("INV-5")


def test_an_unknown_key_says_where_to_add_it() -> None:
    with pytest.raises(KeyError, match=r"sync/error_catalogue/"):
        number_for("doctor.no_such_check")


def test_a_problem_shows_its_number_after_the_sentence() -> None:
    assert str(catalogue.problem("login.moved", "Moved.")) == "Moved. (INV-3005)"
    assert str(Problem("Plain.")) == "Plain."


def test_the_docs_are_generated_from_the_table() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "sync.error_catalogue", "--markdown"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert DOCS.read_text() == generated, f"docs/errors.md is not the table's; regenerate it: {REGENERATE}"
    for entry in ENTRIES:
        assert f"| {entry.number} | `{entry.key}` |" in generated


def test_a_number_is_looked_up_from_the_command_line() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "sync.error_catalogue", "inv-2201"], cwd=ROOT, capture_output=True, text=True
    )
    assert shown.returncode == 0
    assert shown.stdout.startswith("INV-2201 api.unknown_code: Access code not recognised.")


def test_importing_the_catalogue_loads_neither_pydantic_nor_qt() -> None:
    # The player imports it before the access-code screen's first paint.
    probe = "import sys, sync.error_catalogue; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
        .stdout.strip()
        .replace("'", '"')
    )
    assert {"pydantic", "PySide6", "requests"} & set(loaded) == set()


# ---- every code the server can send, found in the source ------------------------------------------------------


@dataclass(frozen=True)
class CodeArgument:
    position: int | None
    keyword: str
    only_in: str = ""
    """A name that is not unique in the tree (`_refused`): counted in this file only."""


CARRIERS = {
    "ServiceError": CodeArgument(1, "error"),
    "CountedRefusal": CodeArgument(1, "error"),
    "Refusal": CodeArgument(0, "code"),
    "RuleViolation": CodeArgument(0, "code"),
    "ResultCodeError": CodeArgument(None, "reason"),
    "_refused": CodeArgument(0, "error", only_in="sync/server/answer_rules.py"),
    "Refused": CodeArgument(None, "error", only_in="sync/client/"),
    "ServerBusy": CodeArgument(None, "error", only_in="sync/client/"),
}
"""Everything that carries a refusal code, and where its code argument is."""

SENT = {"ServiceError", "CountedRefusal", "Refused", "ServerBusy"}
"""Carriers whose code reaches a person as it is: the server's refusals, and the client's own."""

FORWARDED: dict[tuple[str, str], tuple[str, str] | None] = {
    ("sync/server/login.py", "refusal.code"): ("Refusal", ""),
    ("sync/server/ratelimit.py", "refusal.code"): ("Refusal", ""),
    ("sync/server/sittings.py", "exc.code"): ("RuleViolation", ""),
    ("sync/server/answer_rules.py", "error"): ("_refused", ""),
    ("sync/server/code_intake.py", "f'result_code_{exc.reason}'"): ("ResultCodeError", "result_code_"),
    # The server's code relayed (checked above, where it is made), and a refusal without a body: numbered by
    # the client's own entry (client.refused, client.server_busy).
    ("sync/client/transport.py", "body.error"): None,
    ("sync/client/transport.py", "f'http_{status}'"): None,
}
"""Code arguments that are not literals, each with the carrier whose literal codes it passes on (and a prefix)."""


@dataclass
class Found:
    literal: dict[str, dict[str, list[str]]]
    """Carrier -> code -> where ("file:line")."""
    forwards_seen: set[tuple[str, str]]
    unresolved: list[str]


def _carrier(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _code_argument(node: ast.Call, spec: CodeArgument) -> ast.expr | None:
    by_keyword = next((k.value for k in node.keywords if k.arg == spec.keyword), None)
    if by_keyword is not None:
        return by_keyword
    if spec.position is not None and len(node.args) > spec.position:
        return node.args[spec.position]
    return None


def _literals(expr: ast.expr) -> list[str] | None:
    """The strings `expr` can be when it is a literal or a choice of literals; None otherwise."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.IfExp):
        body, orelse = _literals(expr.body), _literals(expr.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


def _assigned_literals(function: ast.AST | None, name: str) -> list[str] | None:
    """The literal values a local variable is given in `function` (`code = "a" if x else "b"`), or None."""
    if function is None:
        return None
    values: list[str] = []
    for node in ast.walk(function):
        if isinstance(node, ast.arg) and node.arg == name:
            return None  # a parameter: whatever the caller passes
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            literals = _literals(node.value)
            if literals is None:
                return None
            values += literals
    return values or None


def scan(sources: dict[str, str]) -> Found:
    """Every carrier's code argument in `sources` (path relative to the repository -> its text)."""
    found = Found(literal={}, forwards_seen=set(), unresolved=[])
    for relative, text in sources.items():
        tree = ast.parse(text, filename=relative)
        enclosing: dict[ast.AST, ast.AST] = {}
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(function):
                    if inner is not function:
                        enclosing.setdefault(inner, function)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                _note(found, relative, node, enclosing.get(node))
    return found


def _note(found: Found, relative: str, node: ast.Call, function: ast.AST | None) -> None:
    name = _carrier(node)
    spec = CARRIERS.get(name or "")
    if name is None or spec is None or not relative.startswith(spec.only_in):
        return
    argument = _code_argument(node, spec)
    if argument is None:
        return
    where = f"{relative}:{node.lineno}"
    literals = _literals(argument)
    if literals is None and isinstance(argument, ast.Name):
        literals = _assigned_literals(function, argument.id)
    if literals is not None:
        for code in literals:
            found.literal.setdefault(name, {}).setdefault(code, []).append(where)
    elif (relative, ast.unparse(argument)) in FORWARDED:
        found.forwards_seen.add((relative, ast.unparse(argument)))
    else:
        found.unresolved.append(f"{where}: {name}(... {ast.unparse(argument)} ...)")


def sent_codes(found: Found) -> dict[str, list[str]]:
    """Every code a person can be shown: the literal codes of SENT carriers, and those forwarded to them."""
    codes: dict[str, list[str]] = {}
    for carrier in SENT:
        for code, where in found.literal.get(carrier, {}).items():
            codes.setdefault(code, []).extend(where)
    for forward in found.forwards_seen:
        source = FORWARDED[forward]
        if source is None:
            continue
        carrier, prefix = source
        for code, where in found.literal.get(carrier, {}).items():
            codes.setdefault(prefix + code, []).extend(where)
    return codes


@pytest.fixture(scope="module")
def source() -> Found:
    return scan({path.relative_to(ROOT).as_posix(): path.read_text() for path in sorted((ROOT / "sync").rglob("*.py"))})


def test_every_code_the_server_can_send_has_an_entry(source: Found) -> None:
    assert source.unresolved == [], (
        "a refusal code that is not a literal string cannot be checked against the error catalogue; write the code "
        "as a literal (or, for a code passed on from another carrier, add it to FORWARDED in this test):\n"
        + "\n".join(source.unresolved)
    )
    stale = sorted(set(FORWARDED) - source.forwards_seen)
    assert stale == [], f"FORWARDED names code arguments no longer in the source: {stale}"
    codes = sent_codes(source)
    assert len(codes) > 70  # the scan found the server's refusals (a broken scan would pass an empty list)
    missing = {code: where[0] for code, where in sorted(codes.items()) if catalogue.lookup(f"api.{code}") is None}
    assert missing == {}, (
        "refusal codes without an entry in sync/error_catalogue/server_entries.py (add `api.<code>` with a new number, then "
        f"`{REGENERATE}`): {missing}"
    )


def test_the_scan_fails_for_a_new_code_without_an_entry_and_for_a_computed_one() -> None:
    # Proof the check above can fail: a new literal code is found (and has no entry), a computed one is reported.
    added = scan(
        {
            "sync/server/new_route.py": "def refuse(kind):\n"
            "    if kind:\n"
            "        raise ServiceError(409, 'brand_new_code', 'No.')\n"
            "    raise ServiceError(409, kind + '_refused', 'No.')\n"
        }
    )
    assert set(sent_codes(added)) == {"brand_new_code"}
    assert catalogue.lookup("api.brand_new_code") is None
    assert added.unresolved == ["sync/server/new_route.py:4: ServiceError(... kind + '_refused' ...)"]
    local = scan(
        {"sync/server/x.py": "def f(a):\n    code = 'one' if a else 'two'\n    return ServiceError(1, code, '')\n"}
    )
    assert set(sent_codes(local)) == {"one", "two"}
    assert local.unresolved == []


# ---- and seen on the wire ------------------------------------------------------------------------------------


def assert_numbered(reply: Any, code: str) -> str:
    body = reply.json()
    assert body["error"] == code, reply.text
    entry = by_number(body["number"])
    assert entry is not None, body
    assert entry.key == f"api.{code}", body
    return str(body["number"])


@pytest.fixture
def refusals(client: TestClient, demo: Demo, admin: dict[str, str]) -> list[tuple[Any, str]]:
    wrong_code = {"access_code": "ZZZZ-ZZZZ", "machine_id": "pc-9"}
    return [
        (client.get(f"{API}/no-such-thing"), "no_such_route"),
        (client.delete(f"{API}/login"), "method_not_allowed"),
        (
            client.post(f"{API}/login", content=b"{not json", headers={"Content-Type": "application/json"}),
            "invalid_request",
        ),
        (client.post(f"{API}/login", json={"access_code": 5}), "invalid_request"),
        (client.post(f"{API}/login", json=wrong_code), "unknown_code"),
        (client.post(f"{API}/login", content=b"{" + b" " * 20_000 + b"}"), "body_too_large"),
        (client.get(f"{API}/staff/sittings"), "no_token"),
        (client.get(f"{API}/staff/sittings", headers=bearer("not-a-token")), "bad_token"),
        (
            client.post(f"{API}/staff/login", json={"username": "nobody", "password": "wrong-password"}),
            "bad_credentials",
        ),
        (client.get(f"{API}/staff/sittings/no-such-sitting/room", headers=admin), "not_found"),
    ]


def test_every_refusal_carries_its_number(refusals: list[tuple[Any, str]]) -> None:
    numbers = [assert_numbered(reply, code) for reply, code in refusals]
    assert numbers[4] == number_for("api.unknown_code") == "INV-2201"


def test_a_refused_envelope_in_a_batch_carries_its_number(client: TestClient, demo: Demo) -> None:
    login = player_login(client, demo.codes[0])
    bad = envelope(login["attempt_id"], {"no-such-item": "A"})
    reply = client.post(
        f"{API}/attempts/{login['attempt_id']}/results/batch",
        json={"envelopes": [bad]},
        headers=bearer(login["attempt_token"]),
    )
    assert reply.status_code == 200, reply.text
    (item,) = reply.json()["items"]
    assert item["error"]["error"] == "unknown_item"
    assert item["error"]["number"] == number_for("api.unknown_item")


# ---- and kept by the client ------------------------------------------------------------------------------------


def test_the_client_keeps_the_servers_number_on_its_error(live_server: LiveServer, demo: Demo) -> None:
    with InvigilClient(live_server.url, machine_id="pc-7") as client, pytest.raises(Refused) as refused:
        client.login("ZZZZ-ZZZZ")
    assert refused.value.error == "unknown_code"
    assert refused.value.number == "INV-2201"
    assert refused.value.problem == Problem(str(refused.value), "INV-2201")


def test_a_refusal_from_an_older_or_newer_server_still_parses_and_is_numbered() -> None:
    older = ErrorBody.model_validate({"error": "locked_out", "message": "Wait."})  # before the catalogue
    assert older.number is None
    assert Refused(older.message, status=429, error=older.error, number=older.number).number == "INV-2203"
    newer = ErrorBody.model_validate({"error": "x", "message": "No.", "number": "INV-2999", "hint": "new field"})
    assert newer.number == "INV-2999"
    assert Refused(newer.message, status=409, error="x", number=newer.number).number == "INV-2999"
    assert Refused("No.", status=409, error="code_this_client_lacks").number == number_for("client.refused")
