"""Grid polygons: parsing WKT or GeoJSON cells in any of China's three datums, validating, storing as GeoJSON.

Grid boundaries arrive from spreadsheets and GIS exports, often drawn on Amap (GCJ-02) or Baidu (BD-09) and
often broken (an unclosed ring, a bow-tie, lat/lon swapped into the sea). A bad polygon silently routes reports
to the wrong worker, so every vertex is converted to WGS-84 once, here, and every problem is reported by a short
code (a key under ``grids.`` in the texts) instead of an exception trace.

WKT and GeoJSON order vertices (lon, lat); `bot.geo.coords` works in (lat, lon). The swap happens only here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from bot.geo.coords import CRS, out_of_china, to_wgs84

__all__ = [
    "GeometryError",
    "GridShape",
    "from_geojson",
    "parse_polygon",
    "to_geojson",
]

GridShape = Polygon | MultiPolygon
Ring = list[tuple[float, float]]  # (lon, lat) vertices, as written
PolygonRings = list[Ring]  # exterior first, then holes

# Stored vertices are rounded to 1e-7° (about 1 cm): far below survey accuracy, and it keeps files diffable.
_DIGITS = 7
# explain_validity can quote long coordinates; a spreadsheet user needs the gist.
_EXPLAIN_MAX = 80
_WKT_HEAD = re.compile(r"^\s*(MULTIPOLYGON|POLYGON)\s*(?:Z\s*|M\s*|ZM\s*)?(.*)$", re.I | re.S)
_WKT_TOKEN = re.compile(r"\s*(\(|\)|,|[^\s(),]+)")


class GeometryError(ValueError):
    """A polygon cell we refuse; `code` is a key under ``grids.`` and `detail` fills its ``{value}``."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def parse_polygon(text: str, crs: CRS | str = CRS.WGS84) -> GridShape:
    """Parse, convert to WGS-84 and validate one polygon cell (WKT or GeoJSON); raise GeometryError.

    The checks run in the order a person fixes them: syntax, ring structure, location, then topology, so the
    first reported problem is the one to fix first.
    """
    crs = CRS(str(crs).lower())
    text = (text or "").strip()
    if not text:
        raise GeometryError("bad_geometry", "")
    polygons = _parse_geojson(text) if text.startswith("{") else _parse_wkt(text)
    if not polygons:
        raise GeometryError("empty_geometry")
    for rings in polygons:
        for ring in rings:
            _check_ring(ring)
    for rings in polygons:
        for ring in rings:
            for lon, lat in ring:
                if out_of_china(lat, lon):
                    raise GeometryError("outside_china", f"{lon:g} {lat:g}")
    converted = [[_convert_ring(ring, crs) for ring in rings] for rings in polygons]
    # RFC 7946 winding (exterior counter-clockwise, holes clockwise): GIS files use either, readers may care.
    parts = [orient(Polygon(rings[0], rings[1:]), 1.0) for rings in converted]
    geom: GridShape = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if not geom.is_valid:
        raise GeometryError("invalid_geometry", _brief(explain_validity(geom)))
    if geom.area <= 0.0:
        raise GeometryError("invalid_geometry", "zero area")
    return geom


def to_geojson(geom: GridShape) -> str:
    """The stored form: a compact GeoJSON geometry in WGS-84 (RFC 7946 order: lon, lat)."""
    return json.dumps(mapping(geom), separators=(",", ":"))


def from_geojson(text: str) -> GridShape:
    """Read a stored geometry back. The database holds only what `parse_polygon` accepted, so no re-validation."""
    geom = shape(json.loads(text))
    if not isinstance(geom, Polygon | MultiPolygon):
        raise ValueError(f"stored grid geometry is a {geom.geom_type}, not a polygon")
    return geom


def _brief(reason: str) -> str:
    return reason if len(reason) <= _EXPLAIN_MAX else reason[: _EXPLAIN_MAX - 1] + "…"


def _convert_ring(ring: Ring, crs: CRS) -> Ring:
    out = []
    for lon, lat in ring:
        wlat, wlon = to_wgs84(lat, lon, crs)
        out.append((round(wlon, _DIGITS), round(wlat, _DIGITS)))
    # Conversion of identical vertices is deterministic, so a closed ring stays closed; make it exact anyway.
    out[-1] = out[0]
    return out


def _check_ring(ring: Ring) -> None:
    if len(ring) < 2 or ring[0] != ring[-1]:
        raise GeometryError("open_ring", _vertex(ring[0]) if ring else "")
    if len(set(ring)) < 3:
        raise GeometryError("too_few_vertices", str(len(set(ring))))


def _vertex(v: tuple[float, float]) -> str:
    return f"{v[0]:g} {v[1]:g}"


def _number(token: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise GeometryError("bad_geometry", token[:20]) from None
    return _finite(value)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise GeometryError("bad_geometry", f"{value}")
    return value


def _vertex_of(values: Sequence[float]) -> tuple[float, float]:
    if not 2 <= len(values) <= 4:  # x y [z [m]]: heights and measures are dropped
        raise GeometryError("bad_geometry", " ".join(f"{v:g}" for v in values[:4]))
    return (values[0], values[1])


# --- WKT -------------------------------------------------------------------------------------------------------


def _parse_wkt(text: str) -> list[PolygonRings]:
    """A small reader for the two types we accept. GEOS's reader only raises an exception whose text we would
    have to pattern-match; reading the rings ourselves lets each problem (open ring, stray token, bad number) get
    its own code and the vertex or token that caused it."""
    text = re.sub(r"^\s*SRID=\d+\s*;", "", text, flags=re.I)
    head = _WKT_HEAD.match(text)
    if head is None:
        word = text.split("(")[0].strip()[:20]
        raise GeometryError("not_polygon", word)
    kind, body = head.group(1).upper(), head.group(2).strip()
    if body.upper() == "EMPTY":
        raise GeometryError("empty_geometry")
    tokens = _tokens(body)
    pos = 0

    def expect(tok: str) -> None:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] != tok:
            got = tokens[pos] if pos < len(tokens) else "…"
            raise GeometryError("bad_geometry", f"{tok} ≠ {got[:20]}")
        pos += 1

    def ring() -> Ring:
        nonlocal pos
        expect("(")
        vertices: Ring = []
        while True:
            values = []
            while pos < len(tokens) and tokens[pos] not in {",", ")", "("}:
                values.append(_number(tokens[pos]))
                pos += 1
            vertices.append(_vertex_of(values))
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
                continue
            expect(")")
            return vertices

    def polygon() -> PolygonRings:
        nonlocal pos
        expect("(")
        rings = [ring()]
        while pos < len(tokens) and tokens[pos] == ",":
            pos += 1
            rings.append(ring())
        expect(")")
        return rings

    if kind == "POLYGON":
        polygons = [polygon()]
    else:
        expect("(")
        polygons = [polygon()]
        while pos < len(tokens) and tokens[pos] == ",":
            pos += 1
            polygons.append(polygon())
        expect(")")
    if pos != len(tokens):
        raise GeometryError("bad_geometry", " ".join(tokens[pos : pos + 3])[:20])
    return polygons


def _tokens(body: str) -> list[str]:
    tokens = []
    pos = 0
    while pos < len(body):
        match = _WKT_TOKEN.match(body, pos)
        if match is None or match.end() == pos:
            break
        tokens.append(match.group(1))
        pos = match.end()
    if body[pos:].strip():
        raise GeometryError("bad_geometry", body[pos : pos + 20])
    return tokens


# --- GeoJSON ---------------------------------------------------------------------------------------------------


def _parse_geojson(text: str) -> list[PolygonRings]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeometryError("bad_geometry", f"JSON: {exc.msg}"[:40]) from None
    except RecursionError:
        raise GeometryError("bad_geometry", "JSON") from None
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict):
        raise GeometryError("not_polygon", type(obj).__name__)
    kind = obj.get("type")
    coords = obj.get("coordinates")
    if kind == "Polygon":
        return [_geojson_polygon(coords)]
    if kind == "MultiPolygon":
        if not isinstance(coords, list):
            raise GeometryError("bad_geometry", "coordinates")
        return [_geojson_polygon(p) for p in coords]
    raise GeometryError("not_polygon", str(kind)[:20])


def _geojson_polygon(coords: object) -> PolygonRings:
    if not isinstance(coords, list) or not coords:
        raise GeometryError("bad_geometry", "coordinates")
    rings = []
    for ring in coords:
        if not isinstance(ring, list):
            raise GeometryError("bad_geometry", "coordinates")
        vertices: Ring = []
        for vertex in ring:
            if not isinstance(vertex, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in vertex
            ):
                raise GeometryError("bad_geometry", str(vertex)[:20])
            vertices.append(_vertex_of([_finite(float(v)) for v in vertex]))
        rings.append(vertices)
    return rings
