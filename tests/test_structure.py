"""The shape we promised: a core that no chat library reaches, and texts in one place for both languages."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from bot.texts import LANGS

ROOT = Path(__file__).resolve().parent.parent
CHAT_LIBRARIES = {"telegram", "wechatpy", "handlers"}
# Wiring may import the doors; the core may not. The stand-in fakes Telegram's server and imports neither.
WIRING = {"bot/app.py", "bot/main.py", "bot/cli.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_core_never_imports_a_chat_library() -> None:
    offenders = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in WIRING:
            continue
        bad = _imports(path) & CHAT_LIBRARIES
        if bad:
            offenders[rel] = bad
    assert offenders == {}


def test_the_standin_is_independent_of_our_code() -> None:
    for path in (ROOT / "bot" / "standin").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import) bot\.(?!standin)", source, re.M), path


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    zh, en = LANGS["zh-CN"], LANGS["en"]
    assert set(zh) == set(en)
    for key in zh:
        assert _fields(zh[key]) == _fields(en[key]), key


def test_handlers_write_no_user_facing_chinese_inline() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for path in (ROOT / "handlers").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and cjk.search(node.value):
                doc_nodes = {
                    n.body[0].value
                    for n in ast.walk(tree)
                    if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                    and n.body
                    and isinstance(n.body[0], ast.Expr)
                }
                assert node in doc_nodes, f"{path.name}:{node.lineno} has inline text {node.value!r}"


SQL_START = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\s")


def _sql_statements(path: Path) -> list[tuple[int, str]]:
    """String literals (f-strings by their first piece) that begin like an SQL statement, by line."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            text = str(node.values[0].value)
        if text and SQL_START.match(text):
            found.add((node.lineno, text.strip()[:60]))
    return sorted(found)


def test_sql_lives_only_in_the_store() -> None:
    """A backend is one folder: services and doors call bot/store/'s functions and never write a statement."""
    offenders = {}
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("bot/store/"):
            continue
        statements = _sql_statements(path)
        if statements:
            offenders[rel] = statements
    assert offenders == {}


def test_the_sql_check_sees_statements(tmp_path: Path) -> None:
    """The check above would pass on a tree it cannot read: here it must find what a service could write."""
    probe = tmp_path / "service.py"
    probe.write_text(
        'A = "SELECT id FROM reports WHERE id = ?"\nB = f"UPDATE reports SET {x} = ?"\nC = "Select a category"\n'
        'D = ("DELETE FROM dialogs"\n     " WHERE user_id = ?")\n',
        encoding="utf-8",
    )
    assert [line for line, _ in _sql_statements(probe)] == [1, 2, 4]
