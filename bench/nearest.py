"""Figure 1: nearest-k through the real `PlaceCatalog`, against brute-force scans measured in the same run.

What a rider feels is one query per shared location, so the figure is per-query latency (p50/p99 over
thousands of clustered query points), at k=5, with and without the amenity filter the chat offers
("stations with charging"). Baselines:

* the brute-force geopy scan the issue names: `geopy.distance.great_circle` to every place, the k smallest
  by (metres, id). At 100k-1M places one scan takes seconds, so it runs on a sample of the queries and its
  per-query time is the mean over that sample (said so in the report); the answers of every sampled query
  must equal the index's exactly (same ids, same order) and the metres must agree.
* a vectorised numpy scan with the same great-circle formula, a much stronger baseline than geopy and what a
  careful engineer would write instead of an index; shown for honesty, no target.
"""

from __future__ import annotations

import gc
import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np
from geopy.distance import great_circle

from bench import memprobe, synth
from bench.common import pct
from bot.geo.index import EARTH_RADIUS_M, SpatialIndex
from bot.places.catalog import PlaceCatalog
from bot.places.model import Place

K = 5


@dataclass
class SizeResult:
    n: int
    build_index_s: float  # SpatialIndex over all points (the tree alone)
    build_catalog_s: float  # PlaceCatalog: sort by id + the unfiltered index
    build_filter_s: float  # the "stations with charging" sub-index, built on its first use
    index_bytes: int  # RSS kept by one SpatialIndex over all points
    catalog_bytes: int  # RSS kept by the catalogue (sorted tuple, id map, arrays, both indexes)
    places_bytes: int = 0  # RSS of the Place objects themselves (they come from the database)
    p50: dict[str, float] = field(default_factory=dict)  # mode -> seconds ("all", "filtered")
    p99: dict[str, float] = field(default_factory=dict)
    geopy_per_query: dict[str, float] = field(default_factory=dict)
    geopy_samples: dict[str, int] = field(default_factory=dict)
    numpy_per_query: dict[str, float] = field(default_factory=dict)
    identical: dict[str, bool] = field(default_factory=dict)
    max_metres_diff: dict[str, float] = field(default_factory=dict)
    filtered_count: int = 0


def _geopy_scan(places: list[Place], lat: float, lon: float, k: int) -> list[tuple[str, float]]:
    """The naive answer: geopy's great-circle metres to every place, the k smallest by (metres, id)."""
    here = (lat, lon)
    best = heapq.nsmallest(k, ((great_circle(here, (p.lat, p.lon)).meters, p.id) for p in places))
    return [(pid, m) for m, pid in best]


class _NumpyScan:
    """All distances at once with numpy (geopy's atan2 great-circle formula), then a partial sort."""

    def __init__(self, places: list[Place]) -> None:
        self.ids = [p.id for p in places]
        lat = np.radians(np.fromiter((p.lat for p in places), float, len(places)))
        self.lon = np.radians(np.fromiter((p.lon for p in places), float, len(places)))
        self.s, self.c = np.sin(lat), np.cos(lat)

    def nearest(self, lat: float, lon: float, k: int) -> list[tuple[str, float]]:
        p1, dl = math.radians(lat), self.lon - math.radians(lon)
        s1, c1 = math.sin(p1), math.cos(p1)
        cd = np.cos(dl)
        y = np.hypot(self.c * np.sin(dl), c1 * self.s - s1 * self.c * cd)
        d = EARTH_RADIUS_M * np.arctan2(y, s1 * self.s + c1 * self.c * cd)
        m = min(k, d.shape[0])
        top = np.argpartition(d, m - 1)[:m] if m < d.shape[0] else np.arange(d.shape[0])
        top = top[np.lexsort((top, d[top]))]
        return [(self.ids[i], float(d[i])) for i in top]


def _timed(fn, qs: list[tuple[float, float]]) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.empty(len(qs))
    clock = time.perf_counter_ns
    for i, (lat, lon) in enumerate(qs):
        t0 = clock()
        fn(lat, lon)
        out[i] = clock() - t0
    return out / 1e9


def run_size(n: int, n_queries: int, geopy_budget_s: float, log) -> SizeResult:  # type: ignore[no-untyped-def]
    points = synth.stations(n)
    places = synth.places(points)
    gc.collect()

    t0 = time.perf_counter()
    index = SpatialIndex(points.lats, points.lons)
    build_index = time.perf_counter() - t0
    del index
    t0 = time.perf_counter()
    catalog = PlaceCatalog(places)
    build_catalog = time.perf_counter() - t0
    t0 = time.perf_counter()
    catalog.nearest(0.0, 0.0, 1, kinds=synth.STATION_KINDS, amenity=synth.FILTER_AMENITY)
    build_filter = time.perf_counter() - t0
    memory = memprobe.in_subprocess(n)  # RSS deltas in this long-lived process would under-count

    res = SizeResult(n, build_index, build_catalog, build_filter, memory["index_bytes"], memory["catalog_bytes"])
    res.places_bytes = memory["places_bytes"]
    qs = synth.queries(n_queries)
    modes = {
        "all": (lambda la, lo: catalog.nearest(la, lo, K), places),
        "filtered": (
            lambda la, lo: catalog.nearest(la, lo, K, kinds=synth.STATION_KINDS, amenity=synth.FILTER_AMENITY),
            [p for p in places if p.kind in synth.STATION_KINDS and synth.FILTER_AMENITY in p.amenities],
        ),
    }
    res.filtered_count = len(modes["filtered"][1])
    for mode, (query, subset) in modes.items():
        _timed(query, qs[: min(200, len(qs))])  # warm caches and the lazily built sub-index
        gc.collect()
        times = _timed(query, qs)
        res.p50[mode], res.p99[mode] = pct(times, 50), pct(times, 99)

        # geopy brute force on a sample sized to the budget (~6 µs per place and query on this machine)
        samples = int(max(2, min(200, geopy_budget_s / max(1, len(subset)) / 6e-6)))
        sample = qs[:: max(1, len(qs) // samples)][:samples]
        identical, worst = True, 0.0
        t0 = time.perf_counter()
        expected = [_geopy_scan(subset, la, lo, K) for la, lo in sample]
        res.geopy_per_query[mode] = (time.perf_counter() - t0) / len(sample)
        res.geopy_samples[mode] = len(sample)
        for (la, lo), want in zip(sample, expected, strict=True):
            got = [(p.id, d) for p, d in query(la, lo)]
            identical &= [i for i, _ in got] == [i for i, _ in want]
            worst = max([worst, *(abs(a[1] - b[1]) for a, b in zip(got, want, strict=False))])
        res.identical[mode], res.max_metres_diff[mode] = identical, worst

        scan = _NumpyScan(subset)
        nq = int(max(5, min(300, 0.5 / (len(subset) * 40e-9 + 1e-6))))
        times_np = _timed(lambda la, lo, s=scan: s.nearest(la, lo, K), qs[:nq])
        res.numpy_per_query[mode] = float(np.median(times_np))
        for la, lo in qs[: min(nq, 50)]:  # the numpy scan must agree too, or it is no baseline
            want = scan.nearest(la, lo, K)
            got = [(p.id, d) for p, d in query(la, lo)]
            res.identical[mode] &= [i for i, _ in got] == [i for i, _ in want]
        log(
            f"  nearest n={n:>9,} {mode:8}: p50 {res.p50[mode] * 1e6:7.1f} µs  p99 {res.p99[mode] * 1e6:7.1f} µs"
            f"  geopy {res.geopy_per_query[mode] * 1e3:9.1f} ms/query ({len(sample)} sampled)"
            f"  numpy {res.numpy_per_query[mode] * 1e3:7.2f} ms  identical={res.identical[mode]}"
        )
    log(
        f"  nearest n={n:>9,} build: index {build_index * 1e3:.1f} ms, catalogue {build_catalog * 1e3:.1f} ms,"
        f" filter {build_filter * 1e3:.1f} ms; index {res.index_bytes / 2**20:.1f} MiB,"
        f" catalogue {res.catalog_bytes / 2**20:.1f} MiB, Place objects {res.places_bytes / 2**20:.1f} MiB"
    )
    return res


def run(sizes: list[int], n_queries: int, geopy_budget_s: float, log) -> list[SizeResult]:  # type: ignore[no-untyped-def]
    return [run_size(n, n_queries, geopy_budget_s, log) for n in sizes]
