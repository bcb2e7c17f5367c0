"""Deterministic synthetic cities: stations, riders' query points and a big database, all from a seed.

Real stations are not uniform: they bunch in a few big cities, and inside a city around business districts,
with long quiet stretches between. A uniform cloud would flatter a k-d tree (every cell equally full) and make
"nearest 5" answers unrealistically close, so points here are a mixture: cities weighted by size, Gaussian
neighbourhood clusters inside each city with heavy-tailed (Pareto) sizes, plus a thin suburban background.
Riders ask from where riders are, so query points come from the same mixture with a little extra scatter.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.places.hours import parse_hours
from bot.places.model import Place

# (name, lat, lon, relative size): real city centres, so distances and cos(lat) are realistic.
CITIES: tuple[tuple[str, float, float, float], ...] = (
    ("上海", 31.2304, 121.4737, 10.0),
    ("北京", 39.9042, 116.4074, 9.0),
    ("深圳", 22.5431, 114.0579, 7.0),
    ("广州", 23.1291, 113.2644, 7.0),
    ("成都", 30.5728, 104.0668, 6.0),
    ("杭州", 30.2741, 120.1551, 5.0),
    ("武汉", 30.5928, 114.3055, 5.0),
    ("西安", 34.3416, 108.9398, 4.0),
    ("南京", 32.0603, 118.7969, 4.0),
    ("重庆", 29.5630, 106.5516, 4.0),
    ("徐州", 34.2058, 117.2841, 2.0),
    ("郑州", 34.7466, 113.6254, 3.0),
)
KINDS = ("station", "canteen", "community", "merchant", "hospital")
KIND_WEIGHTS = (0.50, 0.10, 0.20, 0.15, 0.05)
# amenity → probability that a station or canteen has it ("charging" is the filter the benchmark uses)
AMENITIES: dict[str, float] = {
    "water": 0.9,
    "charging": 0.35,
    "microwave": 0.4,
    "toilet": 0.6,
    "rest": 0.8,
    "umbrella": 0.3,
    "first_aid": 0.3,
    "aircon": 0.5,
    "wifi": 0.4,
}
FILTER_AMENITY = "charging"
STATION_KINDS = frozenset({"station", "canteen"})  # the finder's "stations" scope
CLUSTERS_PER_CITY = 60


@dataclass(frozen=True)
class Points:
    lats: np.ndarray
    lons: np.ndarray
    kinds: np.ndarray  # index into KINDS
    amenity_bits: np.ndarray  # bit i set: the i-th key of AMENITIES

    def __len__(self) -> int:
        return int(self.lats.shape[0])


def _mixture(rng: np.random.Generator, n: int, extra_sigma_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    # The layout of cities and clusters comes from a fixed seed so that stations and queries share it; `rng`
    # only decides which cluster each point falls in and where.
    layout = np.random.default_rng(20260101)
    weights = np.array([c[3] for c in CITIES])
    centres_lat, centres_lon, sigmas, cw = [], [], [], []
    for (_, lat, lon, size), _w in zip(CITIES, weights, strict=True):
        k = CLUSTERS_PER_CITY
        spread = 0.06 + 0.02 * np.sqrt(size)  # bigger cities sprawl further (degrees, ~10-20 km)
        centres_lat.append(lat + layout.normal(0, spread, k))
        centres_lon.append(lon + layout.normal(0, spread / np.cos(np.radians(lat)), k))
        sigmas.append(layout.uniform(0.003, 0.015, k))  # a neighbourhood: 0.3-1.7 km
        cw.append(size * (layout.pareto(1.2, k) + 0.05))  # a few busy districts, many quiet ones
    c_lat, c_lon = np.concatenate(centres_lat), np.concatenate(centres_lon)
    c_sig, c_w = np.concatenate(sigmas), np.concatenate(cw)
    which = rng.choice(c_lat.shape[0], size=n, p=c_w / c_w.sum())
    sig = np.sqrt(c_sig[which] ** 2 + extra_sigma_deg**2)
    lats = c_lat[which] + rng.normal(0.0, 1.0, n) * sig
    lons = c_lon[which] + rng.normal(0.0, 1.0, n) * sig / np.cos(np.radians(c_lat[which]))
    # 3 % suburban background: uniform over a city's wider box
    bg = rng.random(n) < 0.03
    city = rng.choice(len(CITIES), size=int(bg.sum()), p=weights / weights.sum())
    lats[bg] = np.array([CITIES[i][1] for i in city]) + rng.uniform(-0.35, 0.35, city.shape[0])
    lons[bg] = np.array([CITIES[i][2] for i in city]) + rng.uniform(-0.45, 0.45, city.shape[0])
    return lats, lons


def stations(n: int, seed: int = 1) -> Points:
    """`n` places scattered like a country's cities; the same (n, seed) always gives the same points."""
    rng = np.random.default_rng(seed)
    lats, lons = _mixture(rng, n)
    kinds = rng.choice(len(KINDS), size=n, p=np.array(KIND_WEIGHTS))
    bits = np.zeros(n, dtype=np.int64)
    has_amenities = np.isin(kinds, [KINDS.index(k) for k in STATION_KINDS])
    for i, p in enumerate(AMENITIES.values()):
        bits |= ((rng.random(n) < p) & has_amenities).astype(np.int64) << i
    return Points(lats, lons, kinds, bits)


def queries(n: int, seed: int = 2) -> list[tuple[float, float]]:
    """Where riders ask from: the same mixture, plus ~300 m of scatter (riders are near, not at, stations)."""
    lats, lons = _mixture(np.random.default_rng(seed), n, extra_sigma_deg=0.003)
    return list(zip(lats.tolist(), lons.tolist(), strict=True))


_AMENITY_NAMES = tuple(AMENITIES)
_HOURS = ("24h", "08:00-22:00", "07:00-21:00", "09:00-18:00", "")


def place_id(i: int) -> str:
    return f"bench-{i:07d}"


def amenities_of(bits: int) -> frozenset[str]:
    return frozenset(name for i, name in enumerate(_AMENITY_NAMES) if bits >> i & 1)


def places(points: Points) -> list[Place]:
    """The points as Place objects, as the catalogue holds them (ids sort in generation order)."""
    hours = [parse_hours(h) for h in _HOURS]
    kinds = points.kinds.tolist()
    bits = points.amenity_bits.tolist()
    amenity_sets: dict[int, frozenset[str]] = {}
    out = []
    for i, (lat, lon) in enumerate(zip(points.lats.tolist(), points.lons.tolist(), strict=True)):
        b = bits[i]
        if b not in amenity_sets:
            amenity_sets[b] = amenities_of(b)
        out.append(
            Place(
                id=place_id(i),
                name=f"骑手驿站{i}号",
                kind=KINDS[kinds[i]],
                lat=lat,
                lon=lon,
                city="",
                hours=hours[i % len(hours)],
                amenities=amenity_sets[b],
                phone="0516-8000" + str(i % 10000).zfill(4),
            )
        )
    return out


def fill_places(db_path: Path, points: Points) -> None:
    """Bulk-insert the points into an already migrated database (plain sqlite3: seconds for 100k rows)."""
    now = "2026-01-01T00:00:00+00:00"
    kinds = points.kinds.tolist()
    bits = points.amenity_bits.tolist()

    def rows():  # type: ignore[no-untyped-def]
        for i, (lat, lon) in enumerate(zip(points.lats.tolist(), points.lons.tolist(), strict=True)):
            yield (
                place_id(i),
                f"骑手驿站{i}号",
                KINDS[kinds[i]],
                round(lat, 7),
                round(lon, 7),
                _HOURS[i % len(_HOURS)],
                ";".join(sorted(amenities_of(bits[i]))),
                now,
            )

    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany(
            "INSERT INTO places (id, name, kind, lat, lon, hours, amenities, updated_at) VALUES (?,?,?,?,?,?,?,?)",
            rows(),
        )


def fill_reports(db_path: Path, n: int, riders: int = 20_000, seed: int = 3) -> None:
    """`n` historical reports (mostly closed, some open) with their creation events and sent outbox rows,
    spread over `riders` riders and the last year: the database a city has after a year or two."""
    rng = np.random.default_rng(seed)
    lats, lons = _mixture(rng, n)
    cats = ("fire_lane", "road", "lights", "dogs", "other")
    statuses = np.where(rng.random(n) < 0.97, "closed", "forwarded")
    reporter = rng.integers(1, riders + 1, n)
    day = rng.integers(0, 365, n)
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.executemany(
            "INSERT INTO users (id, channel, external_id, display_name, created_at) VALUES (?, 'telegram', ?, ?, ?)",
            ((i, str(900_000_000 + i), f"骑手{i}", "2025-01-01T00:00:00") for i in range(1, riders + 1)),
        )

        def stamp(i: int) -> str:
            d = int(day[i])
            return f"2025-{1 + d // 31:02d}-{1 + d % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+08:00"

        conn.executemany(
            "INSERT INTO reports (id, reporter_id, category, lat, lon, description, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (i + 1, int(reporter[i]), cats[i % len(cats)], float(lats[i]), float(lons[i]), "消防通道被堵",
                 str(statuses[i]), stamp(i), stamp(i))
                for i in range(n)
            ),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO report_events (report_id, at, actor_id, action, from_status, to_status)"
            " VALUES (?, ?, ?, 'create', NULL, 'new')",
            ((i + 1, stamp(i), int(reporter[i])) for i in range(n)),
        )
        conn.executemany(
            "INSERT INTO outbox (idem_key, user_id, channel, address, payload, status, next_at, created_at, sent_at)"
            " VALUES (?, ?, 'telegram', ?, '{\"kind\": \"text\", \"text\": \"…\"}', 'sent', ?, ?, ?)",
            ((f"r{i + 1}:v1:fwd", int(reporter[i]), str(900_000_000 + int(reporter[i])), stamp(i), stamp(i), stamp(i))
             for i in range(n)),
        )  # fmt: skip
