"""Every error the player or console shows carries its catalogue number: a static check of every call that puts an
error on screen (the error labels, show_error, _fail, _say(error=...), show_outcome(failed=...), message boxes).

A message is numbered when it is a Problem: made by `problem(key, text)`, `Problem(text, number)`, a function
annotated to return a Problem (`error_sentence`, `login_failure`, `ClientError.problem`...), or a variable or
parameter holding one. Anything else (a bare string, `str(exc)`, an f-string quoting an exception) fails here with
the file, line and what to do.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ROOT / "player" / "ui"

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
    return []


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
            return _called_name(expr) in self.makers
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
            assigned = [
                node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            ]
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
"""
    problems = checker().check("player/ui/example.py", source)
    assert [p.split(":")[1] for p in problems] == ["3", "4", "5", "6", "7", "8", "9"]
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
"""
    assert checker().check("player/ui/example.py", source) == []
