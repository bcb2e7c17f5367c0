"""Category questions (有人被困吗？, 几辆车？): their definitions from `data/categories.toml`, validation of an
answer from any door, and the rules that turn answers into urgency, a shorter deadline or a department.

Questions are data, not code: a city edits the file (read by `questions_file.py`, which reports every
mistake with its line and key, as the place list does; `rider-bot questions check`).
Answers are kept canonical, whatever door they came through: ``yes``/``no``, a value key, value keys joined by
commas in the file's order, a plain decimal number, or the words. Labels are looked up when shown, so a
renamed label changes old reports' cards too, and an answer whose question was removed still shows as raw text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

TYPES = ("yesno", "single", "multi", "number", "text")
OPEN311_DATATYPE = {"yesno": "singlevaluelist", "single": "singlevaluelist", "multi": "multivaluelist",
                    "number": "number", "text": "text"}  # fmt: skip
CODE = re.compile(r"[a-z][a-z0-9_]{0,19}", re.ASCII)
DEPARTMENT = re.compile(r"[a-z][a-z0-9_]{0,29}", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,9}(?:\.[0-9]{1,6})?|\.[0-9]{1,6})", re.ASCII)
YES, NO = "yes", "no"
MAX_QUESTIONS = 5  # per category: a rider on an e-bike answers a few taps, not a form
MAX_VALUES = 10
MAX_LABEL = 60
MAX_TELL = 300
MAX_TEXT = 200


@dataclass(frozen=True)
class Value:
    key: str
    zh: str
    en: str

    def label(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


@dataclass(frozen=True)
class Rule:
    """What an answer changes: `when` a choice was picked (or a number is `at_least`)."""

    when: str = ""
    at_least: float | None = None
    urgent: bool = False
    accept_minutes: int | None = None
    resolve_minutes: int | None = None
    department: str = ""
    tell_zh: str = ""
    tell_en: str = ""

    def matches(self, question: Question, value: str) -> bool:
        if question.type == "number":
            return self.at_least is not None and float(value) >= self.at_least
        if question.type == "multi":
            return self.when in value.split(",")
        return value == self.when


@dataclass(frozen=True)
class Question:
    category: str
    code: str
    type: str
    required: bool
    zh: str
    en: str
    values: tuple[Value, ...] = ()
    low: float | None = None
    high: float | None = None
    suggest: tuple[str, ...] = ()
    max_length: int = MAX_TEXT
    rules: tuple[Rule, ...] = ()

    def label(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en

    def choices(self) -> tuple[Value, ...]:
        """The options a rider taps (yes/no included); empty for numbers and words."""
        if self.type == "yesno":
            return (Value(YES, "是", "Yes"), Value(NO, "否", "No"))
        return self.values

    def value_label(self, lang: str, value: str) -> str:
        names = {v.key: v.label(lang) for v in self.choices()}
        if self.type in ("yesno", "single"):
            return names.get(value, value)
        if self.type == "multi":
            return ("、" if lang.startswith("zh") else ", ").join(names.get(k, k) for k in value.split(",") if k)
        return value


class AnswerError(ValueError):
    """An answer we cannot take: `code` is ``missing``, ``unknown_value``, ``not_a_number``, ``out_of_range``,
    ``too_long`` or ``unknown_question`` (doors turn it into their own words)."""

    def __init__(self, question: str, code: str, value: str = "") -> None:
        super().__init__(f"{question}: {code}")
        self.question, self.code, self.value = question, code, value


def normalise(question: Question, raw: str | Iterable[str]) -> str:
    """One answer as stored, or AnswerError. `raw` is a list for multiple choice (or a comma-joined string)."""
    if question.type == "multi":
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        picked = {item.strip() for item in items if item.strip()}
        known = [v.key for v in question.values]
        unknown = sorted(picked - set(known))
        if unknown:
            raise AnswerError(question.code, "unknown_value", unknown[0])
        if not picked:
            raise AnswerError(question.code, "missing")
        return ",".join(k for k in known if k in picked)
    text = raw if isinstance(raw, str) else ",".join(raw)
    text = " ".join(text.split())
    if not text:
        raise AnswerError(question.code, "missing")
    if question.type in ("yesno", "single"):
        lowered = text.lower()
        aliases = {"true": YES, "1": YES, "是": YES, "false": NO, "0": NO, "否": NO} if question.type == "yesno" else {}
        key = aliases.get(lowered, lowered)
        if key not in {v.key for v in question.choices()}:
            raise AnswerError(question.code, "unknown_value", text)
        return key
    if question.type == "number":
        if not _NUMBER.fullmatch(text):
            raise AnswerError(question.code, "not_a_number", text)
        number = float(text)
        if (question.low is not None and number < question.low) or (
            question.high is not None and number > question.high
        ):
            raise AnswerError(question.code, "out_of_range", text)
        return str(int(number)) if number.is_integer() else repr(number)
    text = "".join(ch for ch in text if ch.isprintable())
    if len(text) > question.max_length:
        raise AnswerError(question.code, "too_long", str(len(text)))
    return text


@dataclass(frozen=True)
class Outcome:
    """What the answers to one report decide: the strongest of every matching rule."""

    urgent: bool = False
    accept_minutes: int | None = None
    resolve_minutes: int | None = None
    department: str = ""
    tells: tuple[tuple[str, str], ...] = ()  # (zh, en) messages for the rider, at once

    def tell(self, lang: str) -> list[str]:
        return [zh if lang.startswith("zh") else en for zh, en in self.tells]

    @property
    def changes_anything(self) -> bool:
        return bool(self.urgent or self.accept_minutes or self.resolve_minutes or self.department)


def _shortest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True)
class Questionnaire:
    """Every category's questions, in order; empty when no file (or a file with errors) was given."""

    questions: tuple[Question, ...] = ()
    _by_category: dict[str, tuple[Question, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Question]] = {}
        for q in self.questions:
            grouped.setdefault(q.category, []).append(q)
        self._by_category.update({k: tuple(v) for k, v in grouped.items()})

    def for_category(self, category: str) -> tuple[Question, ...]:
        return self._by_category.get(category, ())

    def question(self, category: str, code: str) -> Question | None:
        return next((q for q in self.for_category(category) if q.code == code), None)

    def validate(self, category: str, raw: Mapping[str, str | list[str]]) -> tuple[dict[str, str], list[AnswerError]]:
        """Answers for a whole report (e.g. Open311's attribute[code]): the canonical answers and every error
        (unknown questions, bad values, missing required answers), so a client can fix everything at once."""
        answers: dict[str, str] = {}
        errors: list[AnswerError] = []
        known = {q.code: q for q in self.for_category(category)}
        for code, value in raw.items():
            if code not in known:
                errors.append(AnswerError(code, "unknown_question"))
                continue
            try:
                answers[code] = normalise(known[code], value)
            except AnswerError as exc:
                if exc.code != "missing" or known[code].required:
                    errors.append(exc)
        for q in known.values():
            if q.required and q.code not in answers and not any(e.question == q.code for e in errors):
                errors.append(AnswerError(q.code, "missing"))
        return answers, errors

    def outcome(self, category: str, answers: Mapping[str, str]) -> Outcome:
        urgent, accept, resolve, department, tells = False, None, None, "", []
        for q in self.for_category(category):
            value = answers.get(q.code)
            if value is None:
                continue
            for rule in q.rules:
                if not rule.matches(q, value):
                    continue
                urgent = urgent or rule.urgent
                accept = _shortest(accept, rule.accept_minutes)
                resolve = _shortest(resolve, rule.resolve_minutes)
                department = department or rule.department
                if rule.tell_zh:
                    tells.append((rule.tell_zh, rule.tell_en))
        return Outcome(urgent, accept, resolve, department, tuple(tells))

    def lines(self, lang: str, category: str, answers: Iterable[tuple[str, str]]) -> list[str]:
        """Answers as 'question: answer' lines, in the file's order; unknown ones (a removed question) raw."""
        pairs = dict(answers)
        order = [q.code for q in self.for_category(category)]
        out = []
        for code in sorted(pairs, key=lambda c: (order.index(c) if c in order else len(order), c)):
            q = self.question(category, code)
            if q is None:
                out.append(f"{code}: {pairs[code]}")
            else:
                out.append(f"{q.label(lang)} {q.value_label(lang, pairs[code])}")
        return out
