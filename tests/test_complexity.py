"""Big-O regression checks for nearest-k: how the work grows with the number of places, never a wall-clock
number (this machine's speed varies run to run; a ratio measured within one test does not).

A linear scan costs 10× more for 10× the places; the k-d tree's query costs O(log n) plus a fixed overhead, so
10× the places must cost far less than 10× the time. The data are the benchmarks' clustered synthetic cities
(bench/synth.py), which are harder for a tree than a uniform cloud.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import pytest

from bench import synth
from bot.geo.index import SpatialIndex
from bot.places.catalog import PlaceCatalog

SMALL, LARGE = 10_000, 100_000
QUERIES = synth.queries(1_000, seed=42)


def _median_ns(fn: Any) -> float:
    clock = time.perf_counter_ns
    samples = []
    for lat, lon in QUERIES:
        t0 = clock()
        fn(lat, lon)
        samples.append(clock() - t0)
    return statistics.median(samples)


def _growth(small: Any, large: Any) -> float:
    """time(large) ÷ time(small), interleaved and best-of-rounds so a noisy neighbour cannot fake a trend."""
    ratios = []
    for _ in range(3):
        ratios.append(_median_ns(large) / _median_ns(small))
    return min(ratios)


@pytest.fixture(scope="module")
def indexes() -> tuple[SpatialIndex, SpatialIndex]:
    a, b = synth.stations(SMALL), synth.stations(LARGE)
    return SpatialIndex(a.lats, a.lons), SpatialIndex(b.lats, b.lons)


def test_ten_times_the_places_is_far_less_than_ten_times_the_query_time(
    indexes: tuple[SpatialIndex, SpatialIndex],
) -> None:
    small, large = indexes
    for index in indexes:  # warm up
        _median_ns(lambda la, lo, i=index: i.nearest(la, lo, 5))
    growth = _growth(lambda la, lo: small.nearest(la, lo, 5), lambda la, lo: large.nearest(la, lo, 5))
    assert growth < 3.0, f"10× the places made nearest-5 {growth:.2f}× slower: looks linear, not logarithmic"


def test_a_filter_never_turns_the_query_into_a_scan() -> None:
    small = PlaceCatalog(synth.places(synth.stations(SMALL)))
    large = PlaceCatalog(synth.places(synth.stations(LARGE)))
    kw = {"kinds": synth.STATION_KINDS, "amenity": synth.FILTER_AMENITY}
    for catalog in (small, large):
        _median_ns(lambda la, lo, c=catalog: c.nearest(la, lo, 5, **kw))  # builds the sub-index, warms up
    growth = _growth(lambda la, lo: small.nearest(la, lo, 5, **kw), lambda la, lo: large.nearest(la, lo, 5, **kw))
    assert growth < 3.0, f"10× the places made a filtered nearest-5 {growth:.2f}× slower"
    builds = len(large._indexes)
    for lat, lon in QUERIES[:100]:
        large.nearest(lat, lon, 5, **kw)
    assert len(large._indexes) == builds, "a filter's index is built once, then reused"


class _CountingTree:
    """Wraps the k-d tree and records how many neighbours each query asks it for."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree
        self.asked: list[int] = []

    def query(self, q: np.ndarray, k: int, **kwargs: Any) -> Any:
        self.asked.append(k)
        return self.tree.query(q, k=k, **kwargs)


@pytest.mark.parametrize("max_distance_m", [None, 5_000.0])
def test_the_tree_is_asked_for_about_k_neighbours_not_n(
    indexes: tuple[SpatialIndex, SpatialIndex], max_distance_m: float | None
) -> None:
    _, large = indexes
    counting = _CountingTree(large._tree)
    large._tree = counting
    try:
        for lat, lon in QUERIES:
            large.nearest(lat, lon, 5, offset=5, max_distance_m=max_distance_m)
    finally:
        large._tree = counting.tree
    # need = offset + k = 10; the first query asks for 11; a tie at the boundary may double it, rarely.
    assert max(counting.asked) <= 44, max(counting.asked)
    assert len(counting.asked) <= 1.1 * len(QUERIES), "widening should be rare on real coordinates"
