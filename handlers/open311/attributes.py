"""GeoReport v2 service definitions from the category questions (data/categories.toml), and the
``attribute[code]=…`` fields of a POST, validated by the core's `Questionnaire.validate` like a chat answer.

The mapping of our question types to the spec's datatypes: yesno and single → ``singlevaluelist`` (yes/no keys
``yes``/``no``; ``true``/``false`` are accepted too), multi → ``multivaluelist`` (``attribute[code][]=a&…`` or one
comma list), number → ``number``, text → ``text``. Every problem with the attributes is reported at once, one
error object each, so a client can fix a whole request in one round.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.reports.questions import OPEN311_DATATYPE, AnswerError, Question, Questionnaire
from handlers.open311.formats import ApiError
from handlers.open311.params import echo

_FIELD = re.compile(r"^attribute\[([^\[\]]{1,40})\](\[\])?$")


def _datatype_description(q: Question) -> str:
    if q.type == "number":
        return f"a number from {q.low:g} to {q.high:g}"
    if q.type == "text":
        return f"text, at most {q.max_length} characters"
    if q.type == "multi":
        return "one or more value keys: attribute[code][]=key (repeat), or one comma-separated list"
    return "one value key"


def attribute(q: Question, order: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "variable": True,
        "code": q.code,
        "datatype": OPEN311_DATATYPE[q.type],
        "required": q.required,
        "datatype_description": _datatype_description(q),
        "order": order,
        "description": q.zh,
        "rider_bot:description_en": q.en,
    }
    if q.choices():
        item["values"] = [{"key": v.key, "name": v.zh, "rider_bot:name_en": v.en} for v in q.choices()]
    return item


def definition(questions: Questionnaire, service_code: str) -> dict[str, Any]:
    asked = questions.for_category(service_code)
    return {"service_code": service_code, "attributes": [attribute(q, i) for i, q in enumerate(asked, start=1)]}


def collect(pairs: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """``attribute[code]`` and ``attribute[code][]`` fields: a list for the repeated form, else the last value."""
    found: dict[str, str | list[str]] = {}
    for name, value in pairs:
        m = _FIELD.match(name)
        if m is None:
            if name.startswith("attribute"):
                raise ApiError(400, f"{echo(name)} is not attribute[code] or attribute[code][]")
            continue
        code = m.group(1)
        if m.group(2):
            previous = found.get(code)
            found[code] = [*(previous if isinstance(previous, list) else []), value]
        else:
            found[code] = value
    return found


def _describe(service: str, q: Question | None, exc: AnswerError) -> str:
    field = f"attribute[{exc.question}]"
    if exc.code == "unknown_question" or q is None:
        return f"{field} is not an attribute of service {service}; see services/{service}.json"
    if exc.code == "missing":
        return f"{field} is required for service {service}"
    if exc.code == "unknown_value":
        keys = ", ".join(v.key for v in q.choices())
        return f"{field}: unknown value {echo(exc.value)}; one of {keys}"
    if exc.code in ("not_a_number", "out_of_range"):
        return f"{field} must be a number from {q.low:g} to {q.high:g}"
    return f"{field} longer than {q.max_length} characters"


def check(questions: Questionnaire, service: str, raw: dict[str, str | list[str]]) -> dict[str, str]:
    """The canonical answers, or a 400 listing every bad, unknown or missing attribute."""
    answers, errors = questions.validate(service, raw)
    if errors:
        texts = [_describe(service, questions.question(service, e.question), e) for e in errors]
        raise ApiError(400, texts[0], more=texts[1:])
    return answers
