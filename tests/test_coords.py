"""WGS-84 / GCJ-02 / BD-09 conversions: published reference values, then properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.geo.coords import (
    CRS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from bot.geo.index import great_circle_m

PROPS = settings(max_examples=300, deadline=None)

BEIJING = (39.915, 116.404)  # the point used in wandergis/coordtransform's README and test/app.js
XUZHOU = (34.2610, 117.1840)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return great_circle_m(a[0], a[1], b[0], b[1])


# --- reference values ------------------------------------------------------------------------
# From wandergis/coordtransform test/app.js, called with (lon, lat) = (116.404, 39.915):
#   wgs84togcj02 -> [116.41024449916938, 39.91640428150164]
#   gcj02tobd09  -> [116.41036949371029, 39.92133699351021]
#   bd09togcj02  -> [116.39762729119315, 39.90865673957631]   (one-step approximation)
#   gcj02towgs84 -> [116.39775550083061, 39.91359571849836]   (one-step approximation)


def test_wgs84_to_gcj02_matches_published_value() -> None:
    assert wgs84_to_gcj02(*BEIJING) == pytest.approx((39.91640428150164, 116.41024449916938), abs=1e-12)


def test_gcj02_to_bd09_matches_published_value() -> None:
    assert gcj02_to_bd09(*BEIJING) == pytest.approx((39.92133699351021, 116.41036949371029), abs=1e-12)


def test_inverses_are_close_to_published_one_step_values_but_exact() -> None:
    # The published inverses are one-step approximations; ours iterate, so they differ by a few
    # centimetres from the published numbers but invert the forward transform exactly.
    w = gcj02_to_wgs84(*BEIJING)
    assert metres(w, (39.91359571849836, 116.39775550083061)) < 0.2
    assert wgs84_to_gcj02(*w) == pytest.approx(BEIJING, abs=1e-9)

    g = bd09_to_gcj02(*BEIJING)
    assert metres(g, (39.90865673957631, 116.39762729119315)) < 0.2
    assert gcj02_to_bd09(*g) == pytest.approx(BEIJING, abs=1e-9)


def test_beijing_offset_is_a_few_hundred_metres_north_east() -> None:
    g = wgs84_to_gcj02(*BEIJING)
    assert g[0] > BEIJING[0] and g[1] > BEIJING[1]
    assert 400 < metres(BEIJING, g) < 700


def test_xuzhou_offset_is_a_few_hundred_metres_east() -> None:
    g = wgs84_to_gcj02(*XUZHOU)
    assert g[1] > XUZHOU[1]  # east
    assert 100 < (g[1] - XUZHOU[1]) * 111_320 * math.cos(math.radians(XUZHOU[0])) < 800
    assert 300 < metres(XUZHOU, g) < 800


def test_bd09_is_further_shifted_than_gcj02() -> None:
    g = wgs84_to_gcj02(*BEIJING)
    b = wgs84_to_bd09(*BEIJING)
    assert b == gcj02_to_bd09(*g)
    assert 300 < metres(g, b) < 1200


@pytest.mark.parametrize(
    ("lat", "lon", "out"),
    [
        (39.9, 116.4, False),  # Beijing
        (22.3, 114.2, False),  # Hong Kong: inside the rectangle
        (25.03, 121.56, False),  # Taipei: inside the rectangle too (that is how GCJ code behaves)
        (51.5, -0.12, True),  # London
        (35.68, 139.69, True),  # Tokyo: east of 137.8347
        (-33.9, 151.2, True),  # Sydney
        (0.5, 100.0, True),  # south of 0.8293
        (56.0, 100.0, True),  # north of 55.8271
        (40.0, 72.0, True),  # west of 72.004
    ],
)
def test_out_of_china(lat: float, lon: float, out: bool) -> None:
    assert out_of_china(lat, lon) is out


def test_dispatch_accepts_enum_and_strings() -> None:
    assert to_wgs84(*BEIJING, CRS.GCJ02) == gcj02_to_wgs84(*BEIJING)
    assert to_wgs84(*BEIJING, "bd09") == bd09_to_wgs84(*BEIJING)
    assert to_wgs84(*BEIJING, "WGS84") == BEIJING
    assert from_wgs84(*BEIJING, "gcj02") == wgs84_to_gcj02(*BEIJING)
    assert from_wgs84(*BEIJING, CRS.BD09) == wgs84_to_bd09(*BEIJING)
    assert from_wgs84(*BEIJING, CRS.WGS84) == BEIJING
    with pytest.raises(ValueError):
        to_wgs84(*BEIJING, "epsg:3857")
    with pytest.raises(ValueError):
        from_wgs84(*BEIJING, "baidu")


# --- properties ------------------------------------------------------------------------------
# Stay 0.05° inside the rectangle: right at its edge the forward map is not one-to-one (a point
# just inside can be pushed just outside), so no inverse can round-trip there.
MARGIN = 0.05
china = st.tuples(
    st.floats(0.8293 + MARGIN, 55.8271 - MARGIN),
    st.floats(72.004 + MARGIN, 137.8347 - MARGIN),
)
lat_any = st.floats(-85.0, 85.0)
lon_any = st.floats(-180.0, 180.0)
abroad = st.tuples(lat_any, lon_any).filter(lambda p: out_of_china(*p))


@PROPS
@given(china)
def test_wgs_gcj_round_trip_inside_china(p: tuple[float, float]) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(*p))
    assert metres(p, back) < 1.0
    assert back == pytest.approx(p, abs=1e-7)  # the iteration really converges, not "within 1 m"


@PROPS
@given(china)
def test_gcj_inverse_inverts_the_forward_map(g: tuple[float, float]) -> None:
    assert wgs84_to_gcj02(*gcj02_to_wgs84(*g)) == pytest.approx(g, abs=1e-7)


@PROPS
@given(china)
def test_wgs_bd_round_trip_inside_china(p: tuple[float, float]) -> None:
    assert metres(p, bd09_to_wgs84(*wgs84_to_bd09(*p))) < 1.0


@PROPS
@given(china)
def test_gcj_bd_round_trip_inside_china(p: tuple[float, float]) -> None:
    back = bd09_to_gcj02(*gcj02_to_bd09(*p))
    assert metres(p, back) < 1.0
    assert back == pytest.approx(p, abs=1e-7)


@PROPS
@given(china)
def test_gcj_offset_inside_china_is_under_a_kilometre(p: tuple[float, float]) -> None:
    assert 0.0 < metres(p, wgs84_to_gcj02(*p)) < 1000.0


@PROPS
@given(abroad)
def test_gcj_is_identity_outside_china(p: tuple[float, float]) -> None:
    assert wgs84_to_gcj02(*p) == p
    assert gcj02_to_wgs84(*p) == p


@PROPS
@given(abroad)
def test_bd09_outside_china_is_the_bd_shift_alone(p: tuple[float, float]) -> None:
    # BD-09 is defined relative to GCJ-02, and GCJ-02 is the identity here, so WGS->BD is just
    # the BD shift (Baidu applies it worldwide); the inverse undoes just that shift.
    b = wgs84_to_bd09(*p)
    assert b == gcj02_to_bd09(*p)
    assert metres(p, bd09_to_wgs84(*b)) < 1.0
    assert bd09_to_gcj02(*b) == pytest.approx(p, abs=1e-7)
