"""Every error the player or console shows carries its catalogue number: a static check of every call that puts an
error on screen (the error labels, show_error, _fail, _say(error=...), show_outcome(failed=...), message boxes, and a
plain `setText` of an error sentence or on a label named for errors), and of every error `invigil-server` prints.

A message is numbered when it is a Problem: made by `problem(key, text)`, `Problem(text, number)`, a function
annotated to return a Problem (`error_sentence`, `login_failure`, `ClientError.problem`...), or a variable or
parameter holding one. Anything else (a bare string, `str(exc)`, an f-string quoting an exception) fails here with
the file, line and what to do.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from sync.error_catalogue import lookup

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ROOT / "player" / "ui"
SERVER_CLI = ROOT / "sync" / "server" / "cli"
SERVER_STDERR = [ROOT / "sync" / "server" / "workers.py"]
"""Other server modules that print to `invigil-server serve`'s stderr (a worker that cannot start)."""

PENDING: dict[str, str] = {}
"""Files other helpers own that still show an unnumbered error; the integrator applies the change, then deletes
the line here (the test fails once a listed file is clean, so the list cannot go stale)."""

EXCEPTION_NAMES = {"exc", "error", "err", "e", "failure"}
"""Variables that hold an exception: their words on screen are an error, whatever the label."""


@dataclass
class Scope:
    makers: set[str]
    """Names of functions and properties that return a Problem."""
    module_problems: set[str] = field(default_factory=set)


def problem_makers(roots: list[Path]) -> set[str]:
    makers = {"Problem", "problem"}
    for root in roots:
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
                    returned = ast.unparse(node.returns)
                    if "Problem" in returned and "None" not in returned:
                        makers.add(node.name)
    return makers


ERROR_WORDS = re.compile(
    r"^\W*(could not|couldn't|cannot|can't|failed|unable)\b"
    r"|\b(could not be|cannot be|can't be|failed to|went wrong|is not valid|is damaged|is missing)\b",
    re.IGNORECASE,
)
"""What makes a sentence an error, wherever it is shown ("Could not update the room", "This picture could not be
shown"): such a sentence needs its number even on a label that also shows plain news. A warning before a choice
("you cannot come back to change your answers") is not one."""

ERROR_LABELS = re.compile(r"error|problem|failure", re.IGNORECASE)
"""A label (or a message box's text) named for errors: whatever it shows is an error."""

TEXT_SETTERS = {"setText", "setInformativeText", "setDetailedText"}
"""QLabel's and QMessageBox's plain text: they cannot show a Problem's number unless the text already holds it."""


def literal_text(expr: ast.expr) -> str:
    """The literal words of a message (its f-string parts, both branches of a choice, both sides of a `+`)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.JoinedStr):
        return " ".join(literal_text(v) for v in expr.values if isinstance(v, ast.Constant))
    if isinstance(expr, ast.BinOp):
        return f"{literal_text(expr.left)} {literal_text(expr.right)}"
    if isinstance(expr, ast.IfExp):
        return f"{literal_text(expr.body)} {literal_text(expr.orelse)}"
    return ""


def is_error_sentence(expr: ast.expr) -> bool:
    return bool(ERROR_WORDS.search(literal_text(expr)))


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_false(expr: ast.expr | None) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is False


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def shown_errors(call: ast.Call) -> list[ast.expr]:
    """The message arguments of `call` that are errors on screen (none when the call shows no error)."""
    name = _called_name(call)
    first = call.args[0] if call.args else None
    if name in ("show_error", "_fail", "uploads_not_taken") and first is not None:
        return [first]
    if name == "_say" and first is not None and _keyword(call, "error") is not None:
        return [] if _is_false(_keyword(call, "error")) else [first]
    if name == "show_outcome" and (text := _keyword(call, "text")) is not None:
        return [] if _is_false(_keyword(call, "failed")) else [text]
    if name == "set_message" and len(call.args) == 2:
        target = call.args[0]
        if isinstance(target, ast.Attribute) and "error" in target.attr.lower():
            return [call.args[1]]
    if name in ("warning", "critical") and isinstance(call.func, ast.Attribute):
        owner = ast.unparse(call.func.value)
        if owner.endswith("QMessageBox") and len(call.args) >= 3:
            return [call.args[2]]
    if name in TEXT_SETTERS and isinstance(call.func, ast.Attribute) and first is not None:
        receiver = call.func.value
        named = receiver.attr if isinstance(receiver, ast.Attribute) else ast.unparse(receiver)
        if ERROR_LABELS.search(named) or is_error_sentence(first):
            return [first]
    return [a for a in message_arguments(call) if is_error_sentence(a)]


def quotes_an_exception(expr: ast.expr) -> bool:
    """`str(exc)`, `f"... {exc} ..."`, `exc.strerror`: an exception's words, so an error on any label."""
    return any(isinstance(node, ast.Name) and node.id in EXCEPTION_NAMES for node in ast.walk(expr))


def message_arguments(call: ast.Call) -> list[ast.expr]:
    """Every message a showing call puts on screen (for the exception-words rule)."""
    name = _called_name(call)
    if name in ("set_message", "show_error", "_fail", "_say", "uploads_not_taken") and call.args:
        return [call.args[-1] if name == "set_message" else call.args[0]]
    if name == "show_outcome" and (text := _keyword(call, "text")) is not None:
        return [text]
    return []


class Checker:
    def __init__(self, makers: set[str]) -> None:
        self.makers = makers

    def check(self, relative: str, text: str) -> list[str]:
        tree = ast.parse(text, filename=relative)
        module_problems = self._module_problems(tree)
        problems: list[str] = []
        parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            function = self._enclosing(node, parents)
            shown = shown_errors(node) + [a for a in message_arguments(node) if quotes_an_exception(a)]
            for argument in dict.fromkeys(shown):
                if not self.numbered(argument, function, module_problems):
                    problems.append(
                        f"{relative}:{node.lineno}: {ast.unparse(node)[:100]} shows an error without its number: "
                        'pass problem("<key>", text) (add the key to sync/error_catalogue/player_entries.py with a new number) or '
                        "the error's own .problem"
                    )
        return problems

    def _module_problems(self, tree: ast.Module) -> set[str]:
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if "Problem" in ast.unparse(node.annotation):
                    names.add(node.target.id)
            elif isinstance(node, ast.Assign) and self.numbered(node.value, None, set()):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        return names

    def check_cli(self, relative: str, text: str) -> list[str]:
        """`invigil-server`'s errors: every CliError names its catalogue key (server_cli.*), the server's own errors
        are turned into one, and whatever is written to stderr (or passed to argparse's exit) carries a number."""
        tree = ast.parse(text, filename=relative)
        module_problems = self._module_problems(tree)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        problems: list[str] = []
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{relative}:{node.lineno}: {ast.unparse(node)[:100]}"
            name = _called_name(node)
            if name == "CliError":
                key = _keyword(node, "key")
                known = isinstance(key, ast.Constant) and isinstance(key.value, str) and lookup(key.value) is not None
                if not known or not str(getattr(key, "value", "")).startswith("server_cli."):
                    problems.append(
                        f'{where} has no catalogue key: pass key="server_cli.<what>" (add it to '
                        "sync/error_catalogue/server_entries.py, area 8xxx, with a new number)"
                    )
            elif name in ("StoreError", "SettingsError") and relative.startswith("sync/server/cli/"):
                problems.append(f'{where}: raise CliError(..., key="server_cli.<what>") so it prints its number')
            elif (printed := _printed_to_stderr(node)) is not None and not self.numbered(
                printed, self._enclosing(node, parents), module_problems
            ):
                problems.append(f"{where} prints an error without its number: print a Problem (problem(key, text))")
        return problems

    @staticmethod
    def _enclosing(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[ast.AST]:
        """The functions and lambdas around `node`, innermost first."""
        found: list[ast.AST] = []
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                found.append(node)
        return found

    def numbered(self, expr: ast.expr, functions: list[ast.AST] | None, module_problems: set[str]) -> bool:
        if isinstance(expr, ast.Constant):
            return expr.value in ("", None)  # clearing the message
        if isinstance(expr, ast.Call):
            if _called_name(expr) == "str" and len(expr.args) == 1:
                # str(Problem): "sentence (INV-3301)", the number after it in brackets, for a plain setText.
                return self.numbered(expr.args[0], functions, module_problems)
            return _called_name(expr) in self.makers
        if isinstance(expr, ast.JoinedStr):
            # An f-string quoting a Problem carries its number ("invigil-server init: {problem}").
            values = [v.value for v in expr.values if isinstance(v, ast.FormattedValue)]
            return any(self.numbered(v, functions, module_problems) for v in values)
        if isinstance(expr, ast.Attribute):
            return expr.attr in self.makers  # a property returning a Problem (ClientError.problem)
        if isinstance(expr, ast.IfExp):
            return all(self.numbered(e, functions, module_problems) for e in (expr.body, expr.orelse))
        if isinstance(expr, ast.BoolOp):
            return all(self.numbered(e, functions, module_problems) for e in expr.values)
        if isinstance(expr, ast.Name):
            return self._numbered_name(expr.id, functions or [], module_problems)
        return False

    def _numbered_name(self, name: str, functions: list[ast.AST], module_problems: set[str]) -> bool:
        for function in functions:
            if isinstance(function, ast.Lambda):
                continue
            assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            arguments = function.args.args + function.args.kwonlyargs + function.args.posonlyargs
            for argument in arguments:
                if argument.arg == name:
                    return argument.annotation is not None and "Problem" in ast.unparse(argument.annotation)
            assigned = [value for node in ast.walk(function) for value in _values_given(node, name)]
            annotated = [
                node
                for node in ast.walk(function)
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name
            ]
            if annotated:
                return all("Problem" in ast.unparse(node.annotation) for node in annotated)
            if assigned:
                return all(self.numbered(value, functions, module_problems) for value in assigned)
        return name in module_problems


def _values_given(node: ast.AST, name: str) -> list[ast.expr]:
    """The values `node` assigns to `name`: `name = v`, and `a, name = x, v` (a pair unpacked)."""
    if not isinstance(node, ast.Assign):
        return []
    given: list[ast.expr] = []
    for target in node.targets:
        if isinstance(target, ast.Name) and target.id == name:
            given.append(node.value)
        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            given += [
                v
                for t, v in zip(target.elts, node.value.elts, strict=False)
                if isinstance(t, ast.Name) and t.id == name
            ]
        elif isinstance(target, ast.Tuple) and any(isinstance(t, ast.Name) and t.id == name for t in target.elts):
            given.append(node.value)  # unpacked from a call: not known to be numbered
    return given


def _printed_to_stderr(call: ast.Call) -> ast.expr | None:
    """What `call` writes to stderr: `x.stderr.write(text)`, `print(text, file=x.stderr)`, argparse's
    `self.exit(status, text)`; None for any other call."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "write" and ast.unparse(func.value).endswith("stderr"):
        return call.args[0] if call.args else None
    if _called_name(call) == "print" and (target := _keyword(call, "file")) is not None:
        return call.args[0] if call.args and ast.unparse(target).endswith("stderr") else None
    if isinstance(func, ast.Attribute) and func.attr == "exit" and len(call.args) == 2:
        return call.args[1]
    return None


def checker() -> Checker:
    return Checker(problem_makers([ROOT / "player", ROOT / "sync"]))


def test_every_error_on_screen_carries_its_number() -> None:
    check = checker()
    found: dict[str, list[str]] = {}
    for path in sorted(SCANNED.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        problems = check.check(relative, path.read_text())
        if problems:
            found[relative] = problems
    unexpected = [p for relative, problems in found.items() if relative not in PENDING for p in problems]
    assert unexpected == [], "\n".join(unexpected)
    settled = sorted(set(PENDING) - set(found))
    assert settled == [], f"these files now number their errors: delete them from PENDING: {settled}"


def test_every_error_invigil_server_prints_carries_its_number() -> None:
    check = checker()
    found = [
        problem
        for path in [*sorted(SERVER_CLI.rglob("*.py")), *SERVER_STDERR]
        for problem in check.check_cli(path.relative_to(ROOT).as_posix(), path.read_text())
    ]
    assert found == [], "\n".join(found)


def test_the_cli_check_finds_an_unnumbered_error() -> None:
    source = """
import sys

def cmd(args, env, exc):
    raise CliError("No such school.")
    raise CliError("No such school.", key="server_cli.no_such_key_here")
    raise StoreError("Cannot open it.")
    env.stderr.write(f"invigil-server {args.command}: {exc}\\n")
    print("Cannot listen.", file=sys.stderr)
    self.exit(2, f"invigil-server: error: {exc}\\n")
"""
    problems = checker().check_cli("sync/server/cli/example.py", source)
    assert [p.split(":")[1] for p in problems] == ["5", "6", "7", "8", "9", "10"]


def test_the_cli_check_accepts_numbered_errors() -> None:
    source = """
def cmd(args, env, exc, why: Problem):
    raise CliError("No such school.", key="server_cli.unknown_school")
    env.stderr.write(f"invigil-server {args.command}: {why}\\n")
    print(str(problem("server_cli.usage", "No.")), file=sys.stderr)
"""
    assert checker().check_cli("sync/server/cli/example.py", source) == []


def test_the_check_finds_an_unnumbered_error() -> None:
    # Proof the check can fail: each way of showing an error without a number is reported.
    source = """
def save(self, exc):
    QMessageBox.warning(self, "Not saved", "The disk is full.")
    set_message(self.error, "Something broke.")
    self._fail(str(exc))
    self._say(f"Could not load: {exc}", error=True)
    show_outcome(message=self.message, error=self.error, text="Nope", failed=True)
    set_message(self.message, f"Could not load the log: {exc}")
    self.access_code.show_error(MOVED)
    self.status.setText(f"Could not update the room (showing the last view): {exc}")
    self.setText(f"This picture could not be shown (file {name}). Tell your invigilator.")
    self.problem.setText(reason)
    box.setText("The slips could not be saved.")
    box.setInformativeText("Failed to save: try another folder.")
    set_message(self.message, "Cannot save the slips here.")
    self._say("The results slip could not be printed.")
    self._texts, reason = [], str(exc)
    self.problem.setText(reason)
"""
    problems = checker().check("player/ui/example.py", source)
    assert [p.split(":")[1] for p in problems] == [str(n) for n in (*range(3, 17), 18)]
    assert "shows an error without its number" in problems[0]


def test_the_check_accepts_numbered_errors() -> None:
    source = """
FAILED = problem("console.unexpected", "Failed.")

def save(self, exc, why: Problem, plain: str):
    set_message(self.error, problem("console.file_failed", "The disk is full."))
    self._fail(error_sentence(exc, doing="save"))
    self._fail(exc.problem)
    self._fail(why)
    self._fail(FAILED)
    self._say(plain, error=False)
    set_message(self.error, "")
    chosen = Problem("x", "INV-4001") if plain else None
    set_message(self.error, chosen or "")
    show_outcome(message=self.message, error=self.error, text=plain, failed=False)
    self.status.setText(f"{plain}. Updated at noon.")
    self.setText(str(problem("item.picture_missing", "This picture could not be shown.")))
    self.problem.setText("")
    self.warning.setText(final_warning(plain))
    set_message(self.message, "The result code is saved.")
    set_message(self.confirm_text, f"Ending {plain} is final: you cannot come back to change your answers.")
    number_label.setText(f"Error {plain}" if plain else "")
"""
    assert checker().check("player/ui/example.py", source) == []
