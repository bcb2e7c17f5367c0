"""SpatialIndex.nearest against a brute-force geopy ranking by (distance, position)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from geopy.distance import EARTH_RADIUS, great_circle
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.geo.index import EARTH_RADIUS_M, SpatialIndex, great_circle_m

TOL_M = 1e-6  # distances closer than this may come back in either order

Point = tuple[float, float]


def geopy_m(a: Point, b: Point) -> float:
    return great_circle(a, b).meters


def brute(points: list[Point], q: Point) -> list[tuple[int, float]]:
    return sorted(((i, geopy_m(q, p)) for i, p in enumerate(points)), key=lambda t: (t[1], t[0]))


def clear_of_boundary(points: list[Point], q: Point, max_distance_m: float) -> bool:
    """A point within float noise of max_distance_m may fairly be kept or dropped."""
    return all(abs(geopy_m(q, p) - max_distance_m) > TOL_M for p in points)


def check(
    points: list[Point],
    q: Point,
    k: int,
    offset: int = 0,
    max_distance_m: float | None = None,
    index: SpatialIndex | None = None,
) -> list[tuple[int, float]]:
    index = index if index is not None else SpatialIndex([p[0] for p in points], [p[1] for p in points])
    got = index.nearest(q[0], q[1], k, offset=offset, max_distance_m=max_distance_m)
    ranking = brute(points, q)
    if max_distance_m is not None:
        assert clear_of_boundary(points, q, max_distance_m)
        ranking = [(i, d) for i, d in ranking if d <= max_distance_m]
    expected = ranking[offset : offset + k]
    dist_of = {i: d for i, d in brute(points, q)}

    assert len(got) == len(expected)
    assert len({i for i, _ in got}) == len(got)
    for (gi, gd), (ei, ed) in zip(got, expected, strict=True):
        assert isinstance(gi, int) and isinstance(gd, float)
        assert abs(gd - dist_of[gi]) <= TOL_M  # reported metres agree with geopy
        if gi != ei:  # only a float near-tie may swap places
            assert abs(dist_of[gi] - ed) <= TOL_M, (gi, ei, dist_of[gi], ed)
    # Identical coordinates give identical distances, so these must come out by position.
    for (ai, ad), (bi, bd) in pairwise(got):
        assert ad <= bd
        if points[ai] == points[bi]:
            assert ai < bi
    return got


# --- strategies ------------------------------------------------------------------------------

lat_any = st.floats(-90.0, 90.0)
lon_any = st.floats(-180.0, 180.0)
special_lat = st.sampled_from([90.0, -90.0, 89.9999999, -89.9999999, 0.0, 45.0])
special_lon = st.sampled_from([180.0, -180.0, 179.9999999, -179.9999999, 0.0])
base_point = st.one_of(
    st.tuples(lat_any, lon_any),
    st.tuples(special_lat, lon_any),
    st.tuples(lat_any, special_lon),
    st.tuples(special_lat, special_lon),
    st.tuples(st.floats(18.0, 53.0), st.floats(73.0, 135.0)),  # China-ish
)


def clamp(p: Point) -> Point:
    return (min(90.0, max(-90.0, p[0])), min(180.0, max(-180.0, p[1])))


@st.composite
def point_sets(draw: st.DrawFn) -> list[Point]:
    points: list[Point] = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["fresh", "duplicate", "cluster"]))
        if kind == "fresh" or not points:
            points.append(draw(base_point))
        elif kind == "duplicate":
            points.append(draw(st.sampled_from(points)))
        else:
            c = draw(st.sampled_from(points))
            scale = draw(st.sampled_from([1e-7, 1e-5, 1e-3, 1e-1]))
            dlat = draw(st.floats(-1.0, 1.0)) * scale
            dlon = draw(st.floats(-1.0, 1.0)) * scale
            points.append(clamp((c[0] + dlat, c[1] + dlon)))
    return points


@st.composite
def queries(draw: st.DrawFn, points: list[Point]) -> Point:
    if points and draw(st.booleans()):
        p = draw(st.sampled_from(points))
        how = draw(st.sampled_from(["same", "antipode", "near"]))
        if how == "same":
            return p
        if how == "antipode":
            return (-p[0], p[1] - 180.0 if p[1] > 0 else p[1] + 180.0)
        return clamp((p[0] + draw(st.floats(-1e-4, 1e-4)), p[1] + draw(st.floats(-1e-4, 1e-4))))
    return draw(base_point)


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_nearest_matches_brute_force(data: st.DataObject) -> None:
    points = data.draw(point_sets(), label="points")
    q = data.draw(queries(points), label="q")
    n = len(points)
    k = data.draw(st.integers(0, n + 3), label="k")
    offset = data.draw(st.integers(0, n + 2), label="offset")
    max_d = data.draw(
        st.one_of(
            st.none(),
            st.floats(0.0, 2.1e7),
            st.sampled_from([0.0, 1.0, 100.0, 10_000.0, 1e6, 2.5e7]),
        ),
        label="max_distance_m",
    )
    assume(max_d is None or clear_of_boundary(points, q, max_d))
    check(points, q, k, offset, max_d)


@settings(max_examples=200, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_great_circle_m_agrees_with_geopy(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    ours = great_circle_m(lat1, lon1, lat2, lon2)
    ref = geopy_m((lat1, lon1), (lat2, lon2))
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-6)


# --- examples --------------------------------------------------------------------------------


def test_radius_is_geopys() -> None:
    assert EARTH_RADIUS_M == EARTH_RADIUS * 1000.0 == 6371009.0


def test_empty_index() -> None:
    index = SpatialIndex([], [])
    assert len(index) == 0
    assert index.nearest(39.9, 116.4, 5) == []
    assert index.nearest(39.9, 116.4, 5, offset=3, max_distance_m=1000.0) == []
    assert SpatialIndex(np.array([]), np.array([])).nearest(0.0, 0.0, 1) == []


def test_k_larger_than_n_returns_everything_ranked() -> None:
    points = [(34.26, 117.18), (34.27, 117.19), (34.25, 117.17)]
    got = check(points, (34.26, 117.18), k=10)
    assert [i for i, _ in got] == [0, 1, 2] or [i for i, _ in got] == [0, 2, 1]
    assert got[0] == (0, 0.0)
    assert check(points, (34.26, 117.18), k=10, offset=3) == []


def test_single_point_and_zero_k() -> None:
    index = SpatialIndex([10.0], [20.0])
    assert len(index) == 1
    assert index.nearest(10.0, 20.0, 0) == []
    [(i, d)] = index.nearest(11.0, 20.0, 1)
    assert i == 0 and d == pytest.approx(geopy_m((10.0, 20.0), (11.0, 20.0)), abs=1e-6)


def test_many_exact_duplicates_are_paged_by_position() -> None:
    # 300 copies of one point: every page must come from the tie-break, not the tree's order.
    points = [(31.23, 121.47)] * 300 + [(31.24, 121.48)] * 5 + [(31.23, 121.47)] * 50
    index = SpatialIndex([p[0] for p in points], [p[1] for p in points])
    q = (31.2301, 121.4701)
    for offset in (0, 7, 149, 295, 345, 349, 350, 354, 355):
        got = check(points, q, 5, offset, index=index)
        want = list(range(300)) + list(range(305, 355)) + list(range(300, 305))
        assert [i for i, _ in got] == want[offset : offset + 5]


def test_antipodal_and_polar_points() -> None:
    points = [(90.0, 0.0), (90.0, 123.0), (-90.0, 0.0), (0.0, 180.0), (0.0, -180.0), (0.0, 0.0), (1e-9, 0.0)]
    for q in [(0.0, 0.0), (0.0, 180.0), (90.0, 45.0), (-89.9999999, 179.9999999)]:
        for k in range(len(points) + 1):
            check(points, q, k)
    got = SpatialIndex([90.0, -90.0], [0.0, 0.0]).nearest(90.0, 0.0, 2)
    assert got[1][0] == 1
    assert got[1][1] == pytest.approx(np.pi * EARTH_RADIUS_M, abs=1e-6)


def test_random_dense_city_against_brute_force() -> None:
    rng = np.random.default_rng(7)
    centre = np.array([34.26, 117.18])
    pts = centre + rng.normal(scale=0.05, size=(800, 2))
    pts = np.vstack([pts, pts[:100]])  # exact duplicates at the end
    points = [(float(a), float(b)) for a, b in pts]
    index = SpatialIndex(pts[:, 0], pts[:, 1])
    assert len(index) == 900
    for _ in range(15):
        q = (float(centre[0] + rng.normal(scale=0.05)), float(centre[1] + rng.normal(scale=0.05)))
        check(points, q, int(rng.integers(1, 20)), int(rng.integers(0, 30)), index=index)
        check(points, q, 10, 0, max_distance_m=float(rng.uniform(100, 5000)), index=index)


def test_max_distance_filters_before_paging() -> None:
    points = [(0.0, 0.0), (0.0, 0.001), (0.0, 0.002), (0.0, 0.003), (0.0, 1.0)]
    index = SpatialIndex([p[0] for p in points], [p[1] for p in points])
    within = index.nearest(0.0, 0.0, 10, max_distance_m=400.0)
    assert [i for i, _ in within] == [0, 1, 2, 3]
    assert [i for i, _ in index.nearest(0.0, 0.0, 2, offset=2, max_distance_m=400.0)] == [2, 3]
    assert index.nearest(0.0, 0.0, 2, offset=4, max_distance_m=400.0) == []
    assert index.nearest(0.0, 0.0, 2, max_distance_m=-1.0) == []


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError):
        SpatialIndex([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        SpatialIndex([91.0], [0.0])
    with pytest.raises(ValueError):
        SpatialIndex([0.0], [float("nan")])
    index = SpatialIndex([0.0], [0.0])
    with pytest.raises(ValueError):
        index.nearest(0.0, 0.0, -1)
    with pytest.raises(ValueError):
        index.nearest(0.0, 0.0, 1, offset=-1)
    with pytest.raises(ValueError):
        index.nearest(float("nan"), 0.0, 1)
