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
