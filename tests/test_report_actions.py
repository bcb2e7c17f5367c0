"""The report button payload codec: everything we make parses back, fits Telegram's 64 bytes, and nothing else
parses at all (callback data carries no trust)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reports import actions
from bot.reports.categories import CATEGORIES, CATEGORY_BY_TOKEN

MAX_ID = 999_999_999  # nine digits
MAX_VERSION = 999_999  # the grammar's six digits
ids = st.integers(min_value=0, max_value=MAX_ID)
versions = st.integers(min_value=0, max_value=MAX_VERSION)
target_ids = st.text(alphabet=string.ascii_letters + string.digits + "_.-", min_size=1, max_size=40)
WORK_VERBS = ("accept", "transfer", "resolve", "reject", "show")


def _fits(data: str) -> None:
    assert len(data.encode("utf-8")) <= 64, data


# ---------------------------------------------------------------- everything the service can make round-trips


@pytest.mark.parametrize("verb", ["loc", "skip", "ok", "x", "new"])
def test_plain_draft_buttons_round_trip(verb: str) -> None:
    data = actions.draft(verb)
    _fits(data)
    assert actions.parse(data) == actions.DraftAction(verb, "")
    assert actions.is_report_payload(data)


@pytest.mark.parametrize("token", [c.token for c in CATEGORIES])
def test_every_category_button_round_trips(token: str) -> None:
    data = actions.draft("cat", token)
    _fits(data)
    assert actions.parse(data) == actions.DraftAction("cat", token)


@given(ids)
def test_merge_button_round_trips(report_id: int) -> None:
    data = actions.draft("merge", report_id)
    _fits(data)
    assert actions.parse(data) == actions.DraftAction("merge", str(report_id))


@given(st.sampled_from(WORK_VERBS), ids, versions)
def test_work_buttons_round_trip(verb: str, report_id: int, version: int) -> None:
    data = actions.work(verb, report_id, version)
    _fits(data)
    assert actions.parse(data) == actions.WorkAction(verb, report_id, version)
    assert actions.is_report_payload(data)


@given(ids, versions, st.sampled_from(["grid", "department"]), target_ids)
def test_target_buttons_round_trip(report_id: int, version: int, kind: str, target: str) -> None:
    data = actions.target(report_id, version, kind, target)
    _fits(data)
    assert actions.parse(data) == actions.TargetChoice(report_id, version, kind, target)


@given(ids, st.integers(min_value=1, max_value=5))
def test_rating_buttons_round_trip(report_id: int, stars: int) -> None:
    data = actions.rate(report_id, stars)
    _fits(data)
    assert actions.parse(data) == actions.Rate(report_id, stars)


@given(ids)
def test_reopen_and_show_buttons_round_trip(report_id: int) -> None:
    for data, expected in (
        (actions.reopen(report_id), actions.Reopen(report_id)),
        (actions.show(report_id), actions.ShowReport(report_id)),
    ):
        _fits(data)
        assert actions.parse(data) == expected


@given(
    st.from_regex(r"[a-z][a-z0-9_]{0,19}", fullmatch=True),
    st.from_regex(r"[a-z0-9_.]{1,21}", fullmatch=True),
    st.sampled_from([None, True, False]),
)
def test_answer_buttons_round_trip_with_the_state_a_tick_sets(question: str, value: str, tick: bool | None) -> None:
    data = actions.answer(question, value, tick=tick)
    _fits(data)
    state = "" if tick is None else f":{int(tick)}"
    assert actions.parse(data) == actions.DraftAction("a", f"{question}:{value}{state}")


def test_the_longest_buttons_still_fit() -> None:
    _fits(actions.target(MAX_ID, MAX_VERSION, "department", "x" * 40))
    _fits(actions.target(MAX_ID, MAX_VERSION, "grid", "x" * 40))
    _fits(actions.work("transfer", MAX_ID, MAX_VERSION))
    _fits(actions.draft("merge", MAX_ID))
    _fits(actions.draft("cat", max(CATEGORY_BY_TOKEN, key=len)))


# ---------------------------------------------------------------- nothing else parses

# A reference reader of the grammar written without regular expressions: ASCII digits only, exact field counts.


def _num(text: str, most: int) -> int | None:
    ok = 1 <= len(text) <= most and text.isascii() and text.isdigit()
    return int(text) if ok else None


def reference(data: str) -> actions.Payload | None:
    if not data or len(data) > 64:
        return None
    head, _, rest = data.partition(":")
    parts = rest.split(":") if rest else []
    if head == "rd" and parts and parts[0] == "a":  # an answer: question, value, maybe the tick's state
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("0", "1")):
            return None
        code, value = parts[1], parts[2]
        lower = string.ascii_lowercase
        if not 1 <= len(code) <= 20 or code[0] not in lower or any(c not in lower + string.digits + "_" for c in code):
            return None
        if not 1 <= len(value) <= 21 or any(c not in lower + string.digits + "_." for c in value):
            return None
        return actions.DraftAction("a", ":".join(parts[1:]))
    if head == "rd":
        if not parts or len(parts) > 2 or parts[0] not in ("cat", "loc", "skip", "ok", "x", "merge", "new"):
            return None
        verb, arg = parts[0], parts[1] if len(parts) == 2 else None
        if arg is not None:
            token = 1 <= len(arg) <= 20 and all(c in string.ascii_lowercase + "_" for c in arg)
            if not token and _num(arg, 9) is None:
                return None
        arg = arg or ""
        if verb == "cat" and arg not in CATEGORY_BY_TOKEN:
            return None
        if verb == "merge" and _num(arg, 9) is None:
            return None
        return actions.DraftAction(verb, arg)
    if head == "rw" and len(parts) == 3 and parts[0] in actions.WORK_ACTIONS:
        report_id, version = _num(parts[1], 9), _num(parts[2], 6)
        if report_id is None or version is None:
            return None
        return actions.WorkAction(actions.WORK_ACTIONS[parts[0]], report_id, version)
    if head == "rt" and len(parts) == 3:
        report_id, version = _num(parts[0], 9), _num(parts[1], 6)
        kind, dot, target = parts[2].partition(".")
        allowed = string.ascii_letters + string.digits + "_.-"
        if report_id is None or version is None or kind not in ("g", "d") or not dot:
            return None
        if not 1 <= len(target) <= 40 or any(c not in allowed for c in target):
            return None
        return actions.TargetChoice(report_id, version, "grid" if kind == "g" else "department", target)
    if head == "rc" and len(parts) == 2:
        report_id = _num(parts[0], 9)
        if report_id is None or parts[1] not in ("1", "2", "3", "4", "5"):
            return None
        return actions.Rate(report_id, int(parts[1]))
    if head in ("ro", "rq") and len(parts) == 1:
        report_id = _num(parts[0], 9)
        if report_id is None:
            return None
        return actions.Reopen(report_id) if head == "ro" else actions.ShowReport(report_id)
    return None


# Fragments that make near-misses likely: real prefixes and verbs, digits of every script, separators, newlines.
FRAGMENTS = [
    "rd", "rw", "rt", "rc", "ro", "rq", "rx", ":", "::", ".", "g.", "d.", "cat", "loc", "skip", "ok", "x", "merge",
    "new", "acc", "tr", "res", "rej", "show", "fire_lane", "lights", "nuclear", "1", "12", "0", "007", "5", "9",
    "123456789", "1234567890", "9999999", "-1", "+1", "١٢٣", "٣", "１２", "²", "𝟙", "\n", "\r\n", " ", "\x00", "é",
    "xz-hanfeng-diemeng-g2", "zhujian", "_", "-", "a", "blocked_by", "_done", "_skip",
]  # fmt: skip
near_misses = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=9).map("".join)
# Payload-shaped strings: a real prefix, one to four fields (a fragment or a short random text), maybe a tail.
fields = st.one_of(st.sampled_from(FRAGMENTS), st.lists(st.sampled_from(FRAGMENTS), max_size=3).map("".join),
                   st.text(max_size=6))  # fmt: skip
shaped = st.builds(
    lambda head, body, tail: head + ":" + ":".join(body) + tail,
    st.sampled_from(["rd", "rw", "rt", "rc", "ro", "rq"]),
    st.lists(fields, min_size=1, max_size=4),
    st.sampled_from(["", "", "", "\n", " ", ":", "\x00"]),
)


@given(
    st.one_of(
        st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1")), near_misses, shaped, shaped
    )
)
@settings(max_examples=1000)
def test_random_strings_never_raise_and_parse_only_the_grammar(data: str) -> None:
    parsed = actions.parse(data)
    assert parsed == reference(data), data
    if parsed is not None:
        assert actions.is_report_payload(data)


@pytest.mark.parametrize(
    "data",
    [
        "",
        None,
        "rw:acc:1:1:1",  # an extra field
        "rw:acc:1",  # a missing one
        "rw:acc::1",
        "rc:1:5:",
        "ro:1:",
        ":ro:1",
        "rw:acc:1234567890:1",  # ten digits
        "rw:acc:1:1234567",  # a seven-digit version
        "rq:99999999999999999999999999",
        "rw:acc:-1:1",
        "rc:-3:5",
        "rc:1:0",
        "rc:1:6",
        "rw:acc:١٢٣:1",  # Arabic-Indic digits
        "ro:١٢٣",
        "rq:１２３",  # fullwidth digits
        "rc:1:５",
        "rt:1:1:g.x:y",
        "rt:1:1:q.grid",
        "rt:1:1:g.",
        "rt:1:1:g." + "x" * 41,
        "rt:1:1:d.住建",
        "rd:cat:nuclear",
        "rd:cat:",
        "rd:merge:abc",
        "rd:merge:٣",
        "rd:ok:1:2",
        "ro:12\n",  # `$` would accept a trailing newline
        "rw:acc:1:1\n",
        "rd:ok\n",
        "RO:1",
        " ro:1",
        "ro:1 ",
        "rw:zzz:1:1",
        "x" * 65,
        "ro:" + "1" * 62,
    ],
)
def test_malformed_payloads_parse_to_none(data: str | None) -> None:
    assert actions.parse(data) is None


def test_is_report_payload_is_only_a_prefix_check() -> None:
    assert not actions.is_report_payload(None)
    assert not actions.is_report_payload("")
    assert not actions.is_report_payload("page:2")
    assert actions.is_report_payload("rw:whatever")  # a prefix routes it here; parse still refuses it
    assert actions.parse("rw:whatever") is None
