"""The category questions file (data/categories.toml): property tests on the parser, the validation of answers
and the rules, plus `rider-bot questions check` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.reports.categories import CATEGORIES
from bot.reports.questions import AnswerError, Question, Value, normalise
from bot.reports.questions_file import parse_text

ROOT = Path(__file__).resolve().parent.parent
DEPARTMENTS = {"zhujian", "chengguan", "gongan", "wuye", "xiaofang", "shizheng"}

codes = st.from_regex(r"[a-z][a-z0-9_]{0,19}", fullmatch=True)
labels = st.text("有人被困吗堵塞的是电动车汽车杂物几辆？Is anyone trapped?\"\\'#=[]{}", min_size=1, max_size=60).filter(
    lambda s: s.strip() == s and "  " not in s and s.strip() != ""
)


@st.composite
def questions(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["yesno", "single", "multi", "number", "text"]))
    q: dict = {
        "category": draw(st.sampled_from([c.token for c in CATEGORIES])),
        "code": draw(codes),
        "type": kind,
        "required": draw(st.booleans()),
        "zh": draw(labels),
        "en": draw(labels),
    }
    keys: list[str] = []
    if kind in ("single", "multi"):
        keys = draw(st.lists(codes, min_size=2, max_size=10, unique=True))
        q["values"] = [{"key": k, "zh": draw(labels), "en": draw(labels)} for k in keys]
    rules = []
    if kind == "number":
        q["min"], q["max"] = 0, draw(st.integers(1, 1000))
        rules = [{"at_least": draw(st.integers(0, q["max"])), "urgent": True}]
    elif kind == "yesno":
        department = draw(st.sampled_from(sorted(DEPARTMENTS)))
        rules = [{"when": draw(st.sampled_from(["yes", "no"])), "department": department}]
    elif keys:
        rules = [{"when": draw(st.sampled_from(keys)), "accept_minutes": draw(st.integers(1, 10_000))}]
    if rules and draw(st.booleans()):
        q["rule"] = rules
    return q


def toml(items: list[dict]) -> str:
    """A definitions file as a city would write it: one [[question]] block each, rules as [[question.rule]]."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v, ensure_ascii=False)

    lines = ["# generated"]
    for q in items:
        lines += ["", "[[question]]"] + [f"{k} = {value(v)}" for k, v in q.items() if k != "rule"]
        for rule in q.get("rule", []):
            lines += ["", "[[question.rule]]"] + [f"{k} = {value(v)}" for k, v in rule.items()]
    return "\n".join(lines) + "\n"


def _unique(items: list[dict]) -> list[dict]:
    seen: dict[str, int] = {}
    kept = []
    for q in items:
        if (q["category"], q["code"]) in {(k["category"], k["code"]) for k in kept}:
            continue
        if seen.get(q["category"], 0) >= 5:
            continue
        seen[q["category"]] = seen.get(q["category"], 0) + 1
        kept.append(q)
    return kept


@given(st.lists(questions(), max_size=8).map(_unique))
def test_any_valid_file_parses_to_exactly_what_it_says(items: list[dict]) -> None:
    parsed = parse_text(toml(items), DEPARTMENTS)
    assert parsed.ok, parsed.errors
    got = parsed.questionnaire.questions
    assert [(q.category, q.code, q.type, q.required, q.zh, q.en) for q in got] == [
        (q["category"], q["code"], q["type"], q["required"], q["zh"], q["en"]) for q in items
    ]
    for q, raw in zip(got, items, strict=True):
        assert [v.key for v in q.values] == [v["key"] for v in raw.get("values", [])]
        assert len(q.rules) == len(raw.get("rule", []))


@given(st.lists(questions(), min_size=1, max_size=6).map(_unique), st.data())
def test_a_broken_question_is_reported_at_its_own_line_and_nothing_is_used(
    items: list[dict], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(items) - 1))
    field, bad = data.draw(
        st.sampled_from([("type", "dropdown"), ("category", "volcano"), ("code", "Bad Code"), ("zh", ""),
                         ("required", "yes"), ("colour", "red")])
    )  # fmt: skip
    items[index] = {**items[index], field: bad}
    text = toml(items)
    parsed = parse_text(text, DEPARTMENTS)
    assert not parsed.ok and parsed.questionnaire.questions == ()
    header_lines = [n for n, line in enumerate(text.splitlines(), start=1) if line == "[[question]]"]
    assert any(e.line == header_lines[index] and e.key.startswith(f"question[{index + 1}]") for e in parsed.errors)


@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_the_parser(text: str) -> None:
    parsed = parse_text(text, DEPARTMENTS)
    assert parsed.ok or parsed.errors


def test_rules_that_cannot_work_are_refused() -> None:
    text = """
[[question]]
category = "elevator"
code = "trapped"
type = "yesno"
zh = "有人被困吗？"
en = "Anyone trapped?"

[[question.rule]]
when = "perhaps"
urgent = true

[[question.rule]]
when = "yes"

[[question.rule]]
when = "yes"
department = "nasa"
"""
    parsed = parse_text(text, DEPARTMENTS)
    assert [(e.line, e.key, e.code) for e in parsed.errors] == [
        (9, "question[1].rule[1].when", "unknown_when"),
        (13, "question[1].rule[2]", "rule_does_nothing"),
        (16, "question[1].rule[3].department", "unknown_department"),
    ]


NUMBER = Question("flying_lead", "n", "number", False, "几辆车？", "How many?", low=1, high=200)
MULTI = Question("fire_lane", "m", "multi", True, "堵塞的是？", "What?",
                 values=(Value("ebike", "电动车", "E-bikes"), Value("car", "汽车", "Cars")))  # fmt: skip


@given(st.integers(1, 200))
def test_numbers_are_canonical_and_stable(n: int) -> None:
    assert normalise(NUMBER, f" {n}.0 ") == str(n) == normalise(NUMBER, normalise(NUMBER, str(n)))


@given(st.text(max_size=30))
def test_only_plain_numbers_in_range_are_taken(text: str) -> None:
    try:
        value = normalise(NUMBER, text)
    except AnswerError as exc:
        assert exc.code in {"missing", "not_a_number", "out_of_range"}
    else:
        assert 1 <= float(value) <= 200 and value.replace(".", "").isascii()


@given(st.lists(st.sampled_from(["ebike", "car"]), min_size=1))
def test_multiple_choice_keeps_the_files_order_without_repeats(picked: list[str]) -> None:
    assert normalise(MULTI, picked) == ",".join(k for k in ("ebike", "car") if k in picked)


def test_questions_check_cli(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "--lang", "en", "questions", "check", *args],
            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
        )  # fmt: skip

    ok = run()
    assert ok.returncode == 0 and "no errors" in ok.stdout and "categories.toml" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[question]]\ncategory = "elevator"\ncode = "x"\ntype = "maybe"\nzh = "?"\nen = "?"\n')
    broken = run(str(bad))
    assert broken.returncode == 1
    assert "line 1 question[1].type" in broken.stdout and "yesno, single, multi, number or text" in broken.stdout
