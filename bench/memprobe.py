"""Memory kept by a SpatialIndex and a PlaceCatalog, measured in a fresh process.

In the long benchmark process freed memory is reused and glibc raises its mmap threshold as it goes, so an
RSS delta there under-counts. Here the process is new, the mmap threshold is pinned by the parent
(MALLOC_MMAP_THRESHOLD_), and the only thing built between two RSS readings is the structure measured.
Prints one JSON line: {"index_bytes": …, "catalog_bytes": …, "places_bytes": …}.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

from bench import synth
from bench.common import rss_bytes
from bot.geo.index import SpatialIndex
from bot.places.catalog import PlaceCatalog


def measure(n: int) -> dict[str, int]:
    points = synth.stations(n)
    gc.collect()
    before = rss_bytes()
    index = SpatialIndex(points.lats, points.lons)
    index_bytes = rss_bytes() - before
    del index
    gc.collect()
    before = rss_bytes()
    places = synth.places(points)
    places_bytes = rss_bytes() - before
    before = rss_bytes()
    catalog = PlaceCatalog(places)
    catalog.nearest(0.0, 0.0, 1, kinds=synth.STATION_KINDS, amenity=synth.FILTER_AMENITY)
    catalog_bytes = rss_bytes() - before
    return {"index_bytes": index_bytes, "catalog_bytes": catalog_bytes, "places_bytes": places_bytes}


def in_subprocess(n: int) -> dict[str, int]:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    out = subprocess.run(
        [sys.executable, "-m", "bench.memprobe", str(n)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]))))
