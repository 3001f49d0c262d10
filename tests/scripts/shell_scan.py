"""Finds the programs a bash script runs by name: a small reader of the shell's grammar, enough for ours."""

from __future__ import annotations

import re

# fmt: off
SHELL_BUILTINS = {
    ".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete",
    "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit", "export", "false", "fc", "fg",
    "getopts", "hash", "help", "history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "printf",
    "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift", "shopt", "source", "suspend", "test",
    "times", "trap", "true", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait",
}
# fmt: on
# Words after which the next word is a command again.
SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "esac"}
SEPARATORS = {"\n", ";", "&", "&&", "||", "|", "|&", "(", ")"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
PLACEHOLDER = "$X"
"""Stands for anything computed (a command substitution, an f-string field): never taken for a program name."""


def _strip_heredocs(text: str) -> str:
    """Drops here-document bodies (Python fed to an interpreter, not shell)."""
    out: list[str] = []
    ending: str | None = None
    for line in text.splitlines():
        if ending is not None:
            if line.strip() == ending:
                ending = None
            continue
        out.append(line)
        match = re.search(r"(?<!<)<<-?(?!<)\s*(['\"]?)(\w+)\1", line)
        if match:
            ending = match.group(2)
    return "\n".join(out)


def _strip_comments(text: str) -> str:
    """Removes `# ...` comments, leaving quoted text and `$#`, `${#x}` alone."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and quote == '"':
                out.append(text[i : i + 2])
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        elif char == "#" and (i == 0 or text[i - 1] in " \t\n;"):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _substitutions(text: str) -> tuple[str, list[str]]:
    """Replaces each `$(...)`, `<(...)` and `>(...)` with a placeholder word; returns their insides too."""
    inner: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(text):
        if not (text[i] in "$<>" and text[i + 1 : i + 2] == "(" and text[i + 2 : i + 3] != "("):
            out.append(text[i])
            i += 1
            continue
        depth, j = 1, i + 2
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        inner.append(text[i + 2 : j - 1])
        # `< <(cmd)` reads from it: the "<" stays a redirection whose target is the placeholder.
        out.append(PLACEHOLDER if text[i] == "$" else " " + PLACEHOLDER)
        i = j
    return "".join(out), inner


OPERATORS = ("&&", "||", ";;", "((", "))", "|&", ";", "&", "|", "(", ")", "\n")
REDIRECTION = re.compile(r"&>>?|[<>]{1,3}(&(\d+-?|-)?|\|)?")
TARGET = "<redirect>"
"""A redirection still waiting for its target word, which is no command."""


def _tokens(text: str) -> list[str]:
    """Words with their quotes removed, and operators; redirections and their targets are dropped."""
    out: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""

    def flush() -> None:
        nonlocal in_word
        if in_word:
            if out and out[-1] == TARGET:
                out.pop()  # the word was a redirection's target
            else:
                out.append("".join(word))
        word.clear()
        in_word = False

    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"' and i + 1 < len(text):
                word.append(text[i + 1])
                i += 1
            else:
                word.append(char)
            i += 1
            continue
        if char in "'\"":
            quote, in_word = char, True
            i += 1
            continue
        if char == "\\":
            word.append(text[i + 1 : i + 2])
            in_word = True
            i += 2
            continue
        if char in " \t":
            flush()
            i += 1
            continue
        redirect = REDIRECTION.match(text, i) if char in "<>&" else None
        if redirect and (char != "&" or redirect.group().startswith("&>")):
            if in_word and re.fullmatch(r"\d+|\{\w+\}", "".join(word)):  # 2>, {fd}<: the fd, not a word
                word.clear()
                in_word = False
            flush()
            op = redirect.group()
            if not re.search(r"&(\d+-?|-)$", op):
                out.append(TARGET)
            i = redirect.end()
            continue
        operator = next((o for o in OPERATORS if text.startswith(o, i)), None)
        if operator is not None:
            flush()
            if out and out[-1] == TARGET:
                out.pop()
            out.append(operator)
            i += len(operator)
            continue
        word.append(char)
        in_word = True
        i += 1
    flush()
    return out


def _skip_to(tokens: list[str], i: int, end: str) -> int:
    while i < len(tokens) and tokens[i] != end:
        i += 1
    return i + 1


def _skip_case_pattern(tokens: list[str], i: int) -> int:
    """From after `in` or `;;`: past the next pattern's ")", or past `esac`."""
    while i < len(tokens) and tokens[i] == "\n":
        i += 1
    if i < len(tokens) and tokens[i] == "esac":
        return i + 1
    return _skip_to(tokens, i, ")")


def _commands(tokens: list[str]) -> set[str]:
    """The words in command position: first in a simple command, after any assignments."""
    found: set[str] = set()
    at_command = True
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "((":  # arithmetic, wherever it is
            i = _skip_to(tokens, i, "))")
        elif token == ";;":
            i = _skip_case_pattern(tokens, i)
            at_command = True
        elif token == "(" and not at_command:  # `local names=() x`: the array's parentheses
            i = _skip_to(tokens, i, ")")
        elif token in SEPARATORS or token in SHELL_KEYWORDS:
            at_command = True
        elif not at_command:
            continue
        elif token == "[[":
            i = _skip_to(tokens, i, "]]")
            at_command = False
        elif token == "case":
            i = _skip_case_pattern(tokens, _skip_to(tokens, i, "in"))
        elif token in {"for", "select"}:
            i = _skip_to(tokens, i, "do")
        elif ASSIGNMENT.match(token):
            if token.endswith("=") and tokens[i : i + 1] == ["("]:  # name=( array )
                i = _skip_to(tokens, i, ")")
        elif token in {"exec", "builtin", "function"}:
            continue
        elif tokens[i : i + 2] == ["(", ")"]:  # a function definition
            i += 2
        else:
            at_command = False
            if token == "command" and tokens[i : i + 1] == ["-v"]:
                continue
            if token == "command":
                at_command = True
            elif token not in SHELL_BUILTINS:
                found.add(token)
    return found


def shell_programs(text: str) -> set[str]:
    """The programs a bash script runs by name (not by path or variable), its own functions left out."""
    text = _strip_comments(_strip_heredocs(text).replace("\\\n", " "))
    functions = {a or b for a, b in re.findall(r"^\s*(?:function\s+([\w.:-]+)|([\w.:-]+)\s*\(\))", text, re.M)}
    found: set[str] = set()
    pending = [text]
    while pending:
        flat, inner = _substitutions(pending.pop())
        pending.extend(inner)
        found |= _commands(_tokens(flat))
    return {name for name in found if name not in functions and "$" not in name and "/" not in name}
