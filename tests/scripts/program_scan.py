"""Finds the programs that the project's Python and shell sources start, for the setup-env guard."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.scripts.shell_scan import PLACEHOLDER, shell_programs

SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
OS_EXEC = re.compile(r"^(exec|spawn)[lv]p?e?$")
# Programs that start the command given after their own options ("nice -n 10 bash x.sh").
WRAPPERS = {"nice", "env", "timeout", "nohup", "xvfb-run", "dbus-run-session", "sudo"}
SHELLS = {"sh", "bash", "dash"}


@dataclass
class Found:
    """Each program called, with the files that call it."""

    calls: dict[str, set[str]] = field(default_factory=dict)

    def add(self, program: str, where: str) -> None:
        name = program.strip()
        # A path or a variable names no package; Python's own interpreter is sys.executable, never a literal.
        if name and "$" not in name and "/" not in name and not name.startswith("-"):
            self.calls.setdefault(name, set()).add(where)


class _Module:
    """One Python file: what its names are bound to, and which of its functions pass their arguments on."""

    def __init__(self, tree: ast.Module) -> None:
        self.bindings: dict[str, list[ast.expr]] = {}
        self.loops: dict[str, list[ast.expr]] = {}  # loop variable -> what it iterates over
        self.imports: dict[str, str] = {}  # local name -> "subprocess", "subprocess.run", "shutil.which", ...
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.bindings.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.bindings.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, ast.For | ast.comprehension) and isinstance(node.target, ast.Name):
                self.loops.setdefault(node.target.id, []).append(node.iter)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.wrappers = {
            function.name
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef) and function.args.vararg is not None
            for call in ast.walk(function)
            if isinstance(call, ast.Call)
            and self.kind(call) == "exec"
            and self._passes(self.command_arg(call), function.args.vararg.arg)
        }

    def _passes(self, node: ast.expr | None, vararg: str) -> bool:
        """Whether a command is the function's own *args (so its callers name the program)."""
        if isinstance(node, ast.Name):
            return node.id == vararg
        if isinstance(node, ast.List | ast.Tuple) and node.elts:
            first = node.elts[0]
            return isinstance(first, ast.Starred) and isinstance(first.value, ast.Name) and first.value.id == vararg
        return False

    def dotted(self, func: ast.expr) -> str:
        if isinstance(func, ast.Name):
            return self.imports.get(func.id, func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return f"{self.imports.get(func.value.id, func.value.id)}.{func.attr}"
        return ""

    def kind(self, call: ast.Call) -> str:
        """How the call names a program: "exec" (an argument list), "first" (its first argument), "which" (a name
        to look up), "shell" (a command line), or "" (it starts nothing)."""
        name = self.dotted(call.func)
        module, _, function = name.rpartition(".")
        shell = any(
            k.arg == "shell" and not (isinstance(k.value, ast.Constant) and not k.value.value) for k in call.keywords
        )
        if module == "subprocess" and function in SUBPROCESS_CALLS:
            return "shell" if shell else "exec"
        if name == "shutil.which":
            return "which"
        if name in {"os.system", "asyncio.create_subprocess_shell"}:
            return "shell"
        if (module == "os" and OS_EXEC.match(function)) or name == "asyncio.create_subprocess_exec":
            return "first"
        return ""

    @staticmethod
    def command_arg(call: ast.Call) -> ast.expr | None:
        if call.args:
            return call.args[0]
        return next((k.value for k in call.keywords if k.arg in {"args", "cmd"}), None)

    def strings(self, node: ast.expr, depth: int = 0) -> list[str]:
        """The literal strings a name or expression can stand for (none if it is computed)."""
        if depth > 5:
            return []
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [s for elt in node.elts for s in self.strings(elt, depth + 1)]
        if isinstance(node, ast.Name):
            found = [s for value in self.bindings.get(node.id, []) for s in self.strings(value, depth + 1)]
            # A loop variable stands for each element of what it runs over.
            return found + [s for it in self.loops.get(node.id, []) for s in self.strings(it, depth + 1)]
        return []

    def text(self, node: ast.expr, depth: int = 0) -> str:
        """A command line's literal text, each computed part replaced by a placeholder."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(
                self.text(part, depth) if isinstance(part, ast.Constant) else PLACEHOLDER for part in node.values
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.text(node.left, depth) + self.text(node.right, depth)
        if isinstance(node, ast.Name) and depth < 5 and len(self.bindings.get(node.id, [])) == 1:
            return self.text(self.bindings[node.id][0], depth + 1)
        return PLACEHOLDER

    def commands(self, node: ast.expr, depth: int = 0) -> Iterator[list[ast.expr]]:
        """The argument lists a command expression can be: a list literal, or a name bound to one."""
        if isinstance(node, ast.List | ast.Tuple):
            yield list(node.elts)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            yield from self.commands(node.left, depth)
        elif isinstance(node, ast.Name) and depth < 5:
            for value in self.bindings.get(node.id, []):
                yield from self.commands(value, depth + 1)
        elif isinstance(node, ast.Constant):
            yield [node]

    def programs(self, argv: list[ast.expr]) -> set[str]:
        """The programs an argument list starts: its first word, and what a wrapper or `sh -c` runs."""
        found: set[str] = set()
        i = 0
        while i < len(argv):
            names = self.strings(argv[i]) if not isinstance(argv[i], ast.Starred) else []
            found.update(names)
            if any(name in SHELLS for name in names) and i + 2 < len(argv) and self.strings(argv[i + 1]) == ["-c"]:
                found |= shell_programs(self.text(argv[i + 2]))
                break
            if not any(name in WRAPPERS for name in names):
                break
            i += 1  # past the wrapper's own options, to the command it starts
            while i < len(argv) and any(s.startswith("-") or s.isdigit() or "=" in s for s in self.strings(argv[i])):
                i += 1
        return found

    def calls(self, tree: ast.Module) -> Iterator[set[str]]:
        """The programs each call in the file starts or looks up."""
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            kind = self.kind(call)
            arg = self.command_arg(call)
            if isinstance(call.func, ast.Name | ast.Attribute) and self._called_name(call.func) in self.wrappers:
                yield self.programs(list(call.args))
            elif arg is None:
                continue
            elif kind == "which" or kind == "first":
                yield set(self.strings(arg))
            elif kind == "shell":
                yield shell_programs(self.text(arg))
            elif kind == "exec":
                for argv in self.commands(arg):
                    yield self.programs(argv)

    @staticmethod
    def _called_name(func: ast.Name | ast.Attribute) -> str:
        return func.id if isinstance(func, ast.Name) else func.attr


def python_programs(source: str, filename: str = "<source>") -> set[str]:
    """The programs a Python file starts through subprocess, os or asyncio, or looks up with shutil.which."""
    tree = ast.parse(source, filename)
    module = _Module(tree)
    return {program for found in module.calls(tree) for program in found}


# --- the tree ----------------------------------------------------------------------------------------------------


def is_shell_script(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    if path.suffix or not path.is_file():
        return False
    with path.open("rb") as handle:
        first = handle.readline(200)
    return first.startswith(b"#!") and re.search(rb"\b(ba|da)?sh\b", first) is not None


def scan(root: Path, folders: Iterable[str]) -> Found:
    """Every program called by the Python (*.py, PyInstaller *.spec) and shell sources under the folders."""
    found = Found()
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            where = path.relative_to(root).as_posix()
            if path.suffix in {".py", ".spec"}:
                programs = python_programs(path.read_text(encoding="utf-8"), where)
            elif is_shell_script(path):
                programs = shell_programs(path.read_text(encoding="utf-8"))
            else:
                continue
            for program in programs:
                found.add(program, where)
    return found
