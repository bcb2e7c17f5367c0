"""`rider-bot questions check [FILE]` (and, with moderation, `users` and `audit`): the commands this package adds
to the CLI, registered and dispatched from bot/cli.py with one hook each so the commands live beside their code.
Exit status: 0 done, 1 the file (or the thing asked about) is not usable, 2 bad arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.config import DEFAULT_CATEGORIES_TOML, Settings
from bot.reports import questions as q
from bot.texts import t

COMMANDS = frozenset({"questions"})
_DEPARTMENTS = {"zhujian", "chengguan", "gongan", "wuye", "xiaofang", "shizheng"}  # the migration's seed


def add_parsers(sub: argparse._SubParsersAction) -> None:
    questions = sub.add_parser("questions", help="category questions (data/categories.toml)")
    actions = questions.add_subparsers(dest="questions_action", required=True)
    check = actions.add_parser("check", help="report every mistake in a categories file, with its line and key")
    check.add_argument("file", nargs="?", help="default: the configured categories_toml")


def run(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    return check_file(Path(args.file) if args.file else settings.categories_toml or DEFAULT_CATEGORIES_TOML, lang)


def check_file(path: Path, lang: str) -> int:
    if not path.exists():
        print(t(lang, "qdef.errors", path=path, n=1))
        print(t(lang, "qdef.line", line=0, where="", message=t(lang, "qdef.unreadable", value="FileNotFoundError")))
        return 1
    parsed = q.load(path, _DEPARTMENTS)
    if parsed.ok:
        print(t(lang, "qdef.ok", path=path, n=len(parsed.questionnaire.questions)))
        return 0
    print(t(lang, "qdef.errors", path=path, n=len(parsed.errors)))
    for error in parsed.errors:
        message = t(lang, f"qdef.{error.code}", value=error.value)
        print(t(lang, "qdef.line", line=error.line, where=error.key, message=message))
    return 1
