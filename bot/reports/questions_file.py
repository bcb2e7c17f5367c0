"""Reading `data/categories.toml` into a `Questionnaire`, reporting every mistake with its line and key path.

City staff edit this file by hand; "line 12 question[3].type: type must be yesno, single, multi, number or text"
lets them fix it without reading code. tomllib gives no positions for values, so each error points at the line
of its ``[[question]]`` (or ``[[question.rule]]``) header, found by scanning the text, plus the key path. A file
with any error yields no questions at all: half a questionnaire would ask some categories and not others.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.reports.categories import CATEGORY_BY_TOKEN
from bot.reports.questions import (
    CODE,
    DEPARTMENT,
    MAX_LABEL,
    MAX_QUESTIONS,
    MAX_TELL,
    MAX_TEXT,
    MAX_VALUES,
    TYPES,
    Question,
    Questionnaire,
    Rule,
    Value,
)

_QUESTION_KEYS = {"category", "code", "type", "required", "zh", "en", "values", "min", "max", "suggest",
                  "max_length", "rule"}  # fmt: skip
_RULE_KEYS = {"when", "at_least", "urgent", "accept_minutes", "resolve_minutes", "department", "tell_zh", "tell_en"}
_VALUE_KEYS = {"key", "zh", "en"}


@dataclass(frozen=True)
class DefError:
    """One mistake in the definitions file: where (line, and the key path), what (`code`, a text key under
    ``qdef.``), and the offending value."""

    line: int
    key: str
    code: str
    value: str = ""


@dataclass
class Parsed:
    questionnaire: Questionnaire = field(default_factory=Questionnaire)
    errors: list[DefError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


_HEADER = re.compile(r"^\s*\[\[\s*question(\s*\.\s*rule)?\s*\]\]\s*(#.*)?$")


def _header_lines(text: str) -> tuple[list[int], list[list[int]]]:
    """The line of each ``[[question]]`` and, per question, of each ``[[question.rule]]``: where to point."""
    questions: list[int] = []
    rules: list[list[int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m is None:
            continue
        if m.group(1):
            if rules:
                rules[-1].append(number)
        else:
            questions.append(number)
            rules.append([])
    return questions, rules


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    clean = " ".join(value.split())
    return clean if clean and len(clean) <= limit and clean.isprintable() else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _minutes(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 525_600 else None


class _Checker:
    def __init__(self, departments: set[str] | None) -> None:
        self.errors: list[DefError] = []
        self.departments = departments

    def err(self, line: int, key: str, code: str, value: Any = "") -> None:
        self.errors.append(DefError(line, key, code, "" if value == "" else str(value)[:60]))

    def question(self, item: Any, where: str, line: int, rule_lines: list[int]) -> Question | None:
        if not isinstance(item, dict):
            self.err(line, where, "not_a_table")
            return None
        before = len(self.errors)
        for key in sorted(set(item) - _QUESTION_KEYS):
            self.err(line, f"{where}.{key}", "unknown_key", key)
        category = item.get("category")
        if category not in CATEGORY_BY_TOKEN:
            self.err(line, f"{where}.category", "unknown_category", category if category is not None else "")
        code = item.get("code")
        if not isinstance(code, str) or not CODE.fullmatch(code):
            self.err(line, f"{where}.code", "bad_code", code if code is not None else "")
        kind = item.get("type")
        if kind not in TYPES:
            self.err(line, f"{where}.type", "bad_type", kind if kind is not None else "")
        required = item.get("required", False)
        if not isinstance(required, bool):
            self.err(line, f"{where}.required", "not_bool", required)
        zh, en = _text(item.get("zh"), MAX_LABEL), _text(item.get("en"), MAX_LABEL)
        for lang, label in (("zh", zh), ("en", en)):
            if label is None:
                self.err(line, f"{where}.{lang}", "bad_label", item.get(lang, ""))
        values = self.values(item, where, line, kind)
        low, high, suggest, max_length = self.limits(item, where, line, kind)
        if len(self.errors) > before:
            return None
        question = Question(str(category), str(code), str(kind), bool(required), str(zh), str(en), values,
                            low, high, suggest, max_length)  # fmt: skip
        rules = item.get("rule", [])
        if not isinstance(rules, list):
            self.err(line, f"{where}.rule", "not_a_list")
            return None
        parsed = []
        for j, raw in enumerate(rules):
            rule = self.rule(question, raw, f"{where}.rule[{j + 1}]", rule_lines[j] if j < len(rule_lines) else line)
            if rule is not None:
                parsed.append(rule)
        if len(self.errors) > before:
            return None
        return Question(**{**question.__dict__, "rules": tuple(parsed)})

    def values(self, item: dict[str, Any], where: str, line: int, kind: Any) -> tuple[Value, ...]:
        raw = item.get("values")
        if kind not in ("single", "multi"):
            if raw is not None:
                self.err(line, f"{where}.values", "values_not_allowed", kind)
            return ()
        if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_VALUES:
            self.err(line, f"{where}.values", "bad_values", MAX_VALUES)
            return ()
        found: list[Value] = []
        for i, value in enumerate(raw):
            at = f"{where}.values[{i + 1}]"
            if not isinstance(value, dict):
                self.err(line, at, "not_a_table")
                continue
            for key in sorted(set(value) - _VALUE_KEYS):
                self.err(line, f"{at}.{key}", "unknown_key", key)
            key = value.get("key")
            if not isinstance(key, str) or not CODE.fullmatch(key):
                self.err(line, f"{at}.key", "bad_code", key if key is not None else "")
                continue
            if any(v.key == key for v in found):
                self.err(line, f"{at}.key", "duplicate", key)
                continue
            zh, en = _text(value.get("zh"), MAX_LABEL), _text(value.get("en"), MAX_LABEL)
            if zh is None or en is None:
                self.err(line, f"{at}.{'zh' if zh is None else 'en'}", "bad_label")
                continue
            found.append(Value(key, zh, en))
        return tuple(found)

    def limits(
        self, item: dict[str, Any], where: str, line: int, kind: Any
    ) -> tuple[float | None, float | None, tuple[str, ...], int]:
        low = high = None
        suggest: tuple[str, ...] = ()
        max_length = MAX_TEXT
        for key in ("min", "max", "suggest"):
            if key in item and kind != "number":
                self.err(line, f"{where}.{key}", "only_for_number", kind)
        if "max_length" in item and kind != "text":
            self.err(line, f"{where}.max_length", "only_for_text", kind)
        if kind == "number":
            low, high = _num(item.get("min", 0)), _num(item.get("max", 9999))
            if low is None:
                self.err(line, f"{where}.min", "not_a_number", item.get("min"))
            if high is None:
                self.err(line, f"{where}.max", "not_a_number", item.get("max"))
            if low is not None and high is not None and low > high:
                self.err(line, f"{where}.max", "min_over_max", high)
            raw = item.get("suggest", [])
            numbers = [_num(x) for x in raw] if isinstance(raw, list) else [None]
            if len(numbers) > 6 or any(
                x is None or (low is not None and x < low) or (high is not None and x > high) for x in numbers
            ):
                self.err(line, f"{where}.suggest", "bad_suggest")
            else:
                suggest = tuple(str(int(x)) if x.is_integer() else repr(x) for x in numbers if x is not None)
        if kind == "text" and "max_length" in item:
            value = item["max_length"]
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 500:
                self.err(line, f"{where}.max_length", "bad_max_length", value)
            else:
                max_length = value
        return low, high, suggest, max_length

    def rule(self, question: Question, raw: Any, where: str, line: int) -> Rule | None:
        if not isinstance(raw, dict):
            self.err(line, where, "not_a_table")
            return None
        before = len(self.errors)
        for key in sorted(set(raw) - _RULE_KEYS):
            self.err(line, f"{where}.{key}", "unknown_key", key)
        when, at_least = raw.get("when", ""), None
        if question.type == "text":
            self.err(line, where, "no_rules_on_text")
        elif question.type == "number":
            at_least = _num(raw.get("at_least"))
            if at_least is None or "when" in raw:
                self.err(line, f"{where}.at_least", "need_at_least", raw.get("at_least", ""))
        elif when not in {v.key for v in question.choices()}:
            self.err(line, f"{where}.when", "unknown_when", when)
        urgent = raw.get("urgent", False)
        if not isinstance(urgent, bool):
            self.err(line, f"{where}.urgent", "not_bool", urgent)
        minutes = {}
        for key in ("accept_minutes", "resolve_minutes"):
            if key in raw:
                minutes[key] = _minutes(raw[key])
                if minutes[key] is None:
                    self.err(line, f"{where}.{key}", "bad_minutes", raw[key])
        department = raw.get("department", "")
        if not isinstance(department, str) or (department and not DEPARTMENT.fullmatch(department)):
            self.err(line, f"{where}.department", "bad_department", department)
        elif department and self.departments is not None and department not in self.departments:
            self.err(line, f"{where}.department", "unknown_department", department)
        tell_zh, tell_en = raw.get("tell_zh", ""), raw.get("tell_en", "")
        if (tell_zh or tell_en) and (_text(tell_zh, MAX_TELL) is None or _text(tell_en, MAX_TELL) is None):
            self.err(line, f"{where}.{'tell_zh' if _text(tell_zh, MAX_TELL) is None else 'tell_en'}", "bad_tell")
        if not (urgent is True or minutes or department or tell_zh):
            self.err(line, where, "rule_does_nothing")
        if len(self.errors) > before:
            return None
        return Rule(str(when), at_least, bool(urgent), minutes.get("accept_minutes"), minutes.get("resolve_minutes"),
                    department, " ".join(str(tell_zh).split()), " ".join(str(tell_en).split()))  # fmt: skip


def parse_text(text: str, departments: set[str] | None = None) -> Parsed:
    """Every question of a categories file, or every error in it (then no questions at all)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        return Parsed(errors=[DefError(int(m.group(1)) if m else 0, "", "syntax", str(exc)[:120])])
    checker = _Checker(departments)
    for key in sorted(set(data) - {"question"}):
        checker.err(0, key, "unknown_key", key)
    items = data.get("question", [])
    if not isinstance(items, list):
        checker.err(0, "question", "not_a_list")
        items = []
    lines, rule_lines = _header_lines(text)
    questions: list[Question] = []
    for i, item in enumerate(items):
        line = lines[i] if i < len(lines) else 0
        question = checker.question(item, f"question[{i + 1}]", line, rule_lines[i] if i < len(rule_lines) else [])
        if question is None:
            continue
        same = [q for q in questions if q.category == question.category]
        if any(q.code == question.code for q in same):
            checker.err(line, f"question[{i + 1}].code", "duplicate", question.code)
        elif len(same) >= MAX_QUESTIONS:
            checker.err(line, f"question[{i + 1}]", "too_many", MAX_QUESTIONS)
        else:
            questions.append(question)
    if checker.errors:
        return Parsed(errors=checker.errors)
    return Parsed(Questionnaire(tuple(questions)))


def load(path: Path | None, departments: set[str] | None = None) -> Parsed:
    """The file at `path`, or no questions when there is no file (a city that asks nothing extra)."""
    if path is None or not path.exists():
        return Parsed()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return Parsed(errors=[DefError(0, "", "unreadable", type(exc).__name__)])
    return parse_text(text, departments)
