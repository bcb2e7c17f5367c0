"""Opening hours: parse/format round trip, and `state_at` against a minute-by-minute model."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.places.hours import DAY, Hours, HoursError, OpenState, parse_hours

PROPS = settings(max_examples=200, deadline=None)

Range = tuple[int, int]

minutes = st.integers(0, DAY - 1)
ranges_st = st.tuples(minutes, minutes).filter(lambda r: r[0] != r[1])
hours_st = st.lists(ranges_st, min_size=1, max_size=4).map(lambda rs: Hours(ranges=tuple(sorted(rs))))


def fmt(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"


def at(m: int) -> datetime:
    return datetime(2026, 11, 26, m // 60, m % 60)


def in_range(r: Range, m: int) -> bool:
    start, end = r
    if start < end:
        return start <= m < end
    return m >= start or m < end  # runs past midnight


def open_at(ranges: tuple[Range, ...], m: int) -> bool:
    return any(in_range(r, m % DAY) for r in ranges)


def minute(t: time | None) -> int:
    assert t is not None
    assert t.second == 0 and t.microsecond == 0
    return t.hour * 60 + t.minute


# --- parsing ---------------------------------------------------------------------------------------------------


@given(hours_st)
@PROPS
def test_str_round_trip(hours: Hours) -> None:
    assert parse_hours(str(hours)) == hours
    assert str(parse_hours(str(hours))) == str(hours)


@given(st.lists(ranges_st, min_size=1, max_size=4), st.sampled_from([";", "；", ",", "，", " ; "]), st.data())
@PROPS
def test_parse_written_ranges(ranges: list[Range], sep: str, data: st.DataObject) -> None:
    parts = []
    for start, end in ranges:
        dash = data.draw(st.sampled_from(["-", "–", "~", "～", "至", " - "]))
        close = "24:00" if end == 0 and data.draw(st.booleans()) else fmt(end)
        start_text = str(start // 60) + fmt(start)[2:] if data.draw(st.booleans()) else fmt(start)  # "8:00" too
        parts.append(f"{start_text}{dash}{close}")
    assert parse_hours(sep.join(parts)) == Hours(ranges=tuple(sorted(ranges)))


@pytest.mark.parametrize("text", ["24h", "24H", "24小时", "24 小时", "全天", "00:00-24:00", "0:00-24:00", " 24h "])
def test_always_spellings(text: str) -> None:
    hours = parse_hours(text)
    assert hours.always and hours.known
    assert str(hours) == "24h"


@pytest.mark.parametrize("text", ["00:00~24:00", "00:00–24:00", "00:00至24:00", "00:00 - 24:00"])
def test_whole_day_with_any_dash_is_always(text: str) -> None:
    # DATA.md: "00:00-24:00" means always open, and the dash may be written – ~ ～ 至.
    assert parse_hours(text) == Hours(always=True)


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_is_unknown(text: str | None) -> None:
    hours = parse_hours(text)  # type: ignore[arg-type]
    assert hours == Hours() and not hours.known
    assert str(hours) == ""


@pytest.mark.parametrize(
    "text",
    [
        "25:00-26:00",
        "08:00-25:00",
        "24:00-08:00",  # 24:00 only as a closing time
        "08:60-22:00",
        "08:00-24:30",
        "08:00-08:00",
        "08:00-08:00;10:00-12:00",
        "8-22",
        "08-22",
        "8:00",
        "open daily",
        "全天营业",
        "早八点到晚十点",
        "08:00-22:00;abc",
        ";",
        " ; ; ",
        "08:00--22:00",
        "08:00-22:00-23:00",
    ],
)
def test_bad_inputs_raise(text: str) -> None:
    with pytest.raises(HoursError):
        parse_hours(text)


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_parses_or_raises_hours_error(text: str) -> None:
    try:
        hours = parse_hours(text)
    except HoursError:
        return
    assert parse_hours(str(hours)) == hours


# --- state_at ------------------------------------------------------------------------------------------------------


@given(hours_st, minutes)
@PROPS
def test_state_at_matches_model(hours: Hours, now: int) -> None:
    state = hours.state_at(at(now))
    ranges = hours.ranges
    whole_day = all(open_at(ranges, m) for m in range(DAY))
    if whole_day:
        assert state.state in {"always", "open"}
        return
    assert state.state == ("open" if open_at(ranges, now) else "closed")
    boundary = minute(state.at)
    # "until" in minutes after today's midnight; next_day means tomorrow's clock time.
    until = boundary + (DAY if state.next_day else 0)
    assert now < until <= now + DAY
    if state.state == "open":
        assert boundary in {end for _, end in ranges}
        assert all(open_at(ranges, m) for m in range(now, until))
        assert not open_at(ranges, until)  # it really closes then, even when ranges touch or overlap
    else:
        assert boundary in {start for start, _ in ranges}
        assert not any(open_at(ranges, m) for m in range(now, until))
        assert open_at(ranges, until)


@given(ranges_st, minutes)
@PROPS
def test_single_range_next_day_flag(r: Range, now: int) -> None:
    start, end = r
    state = Hours(ranges=(r,)).state_at(at(now))
    if in_range(r, now):
        assert state == OpenState("open", time(end // 60, end % 60), next_day=end <= now)
    else:
        assert state == OpenState("closed", time(start // 60, start % 60), next_day=start <= now)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("08:00-22:00", "07:59", OpenState("closed", time(8, 0))),
        ("08:00-22:00", "08:00", OpenState("open", time(22, 0))),
        ("08:00-22:00", "21:59", OpenState("open", time(22, 0))),
        ("08:00-22:00", "22:00", OpenState("closed", time(8, 0), next_day=True)),
        ("17:00-02:00", "23:30", OpenState("open", time(2, 0), next_day=True)),
        ("17:00-02:00", "01:30", OpenState("open", time(2, 0))),
        ("17:00-02:00", "02:00", OpenState("closed", time(17, 0))),
        ("20:00-24:00", "23:00", OpenState("open", time(0, 0), next_day=True)),
        ("10:00-14:00;17:00-21:00", "15:00", OpenState("closed", time(17, 0))),
        ("10:00-14:00;17:00-21:00", "21:30", OpenState("closed", time(10, 0), next_day=True)),
        ("08:00-12:00;12:00-18:00", "09:00", OpenState("open", time(18, 0))),
        ("08:00-14:00;12:00-18:00", "13:00", OpenState("open", time(18, 0))),
        ("18:00-02:00;01:00-03:00", "19:00", OpenState("open", time(3, 0), next_day=True)),
    ],
)
def test_state_examples(text: str, now: str, expected: OpenState) -> None:
    h, m = (int(x) for x in now.split(":"))
    assert parse_hours(text).state_at(at(h * 60 + m)) == expected


@given(minutes)
@settings(max_examples=50, deadline=None)
def test_24h_always_open(now: int) -> None:
    assert parse_hours("24h").state_at(at(now)) == OpenState("always")


@given(minutes)
@settings(max_examples=50, deadline=None)
def test_empty_is_unknown_at_any_time(now: int) -> None:
    assert parse_hours("").state_at(at(now)) == OpenState("unknown")
