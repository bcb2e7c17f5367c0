"""Section 8 of docs/PERFORMANCE.md from one `python -m bench.storage` run: the figures, where the bytes went, the
log. The section lives between its markers after section 7; `python -m bench` keeps it as it is (bench/report.py),
and `python -m bench.scaleout` rewrites only its own section."""

from __future__ import annotations

from pathlib import Path

from bench.common import log_details
from bench.storage import PHASES, PHOTO_TABLES, BackendRun, StorageResults
from bot.media.decode import MAX_SHARED_SIDE

BEGIN, END = "<!-- storage -->", "<!-- /storage -->"
HEADING = "## 8. Storage: what reports and photos cost the database"
INTRO = """\
How much a city's database grows, measured rather than estimated (issue 12's sizing table in docs/SCALING.md
takes its storage figures from here). Whole 随手拍 dialogs go through the real services — photo → place →
category → the category's questions → 提交, with the bundled categories and production settings — on PostgreSQL,
where photos are rows (`photo_shared` and `photo_originals`), and on SQLite, where they are files beside the
database; the store is measured at rest before and after each phase: PostgreSQL after `VACUUM ANALYZE` (what
autovacuum leaves), `pg_database_size` and `pg_total_relation_size` per table (heap, indexes, TOAST); SQLite after
a WAL checkpoint, the file (`dbstat` per table) plus every file under the photo directory. The phases: **rows**
(every report carries the same photo, stored once before the phase, so only a report's own rows grow), **chat
photos** (each report its own photo as Telegram hands it to a bot: 1280 px, re-encoded, no EXIF) and **camera
files** (each its own photo sent as a file: the phone's 12-megapixel original with EXIF and GPS), then
**resolved** (reports of the first phase live on: their grid worker accepts, resolves with an after-photo and a
note, the rider gives 5 stars; one after-photo for all, stored before the phase, so only the rows of a report's
life grow). A photo's cost is its phase's growth less its report's rows; an after-photo costs what a chat photo
costs (a worker on site sends a photo, not a file). The photos are synthetic, with natural
images' statistics (`bench/camera.py`), calibrated to typical sizes; `--photo FILE` runs the camera phase with a
real photo.

```bash
python -m bench.storage                 # under a minute; writes the block below
python -m bench.storage --photo a.jpg   # the camera phase with a real photo
```
"""
NOT_RUN = f"{BEGIN}\n_(not measured yet: `python -m bench.storage`)_\n{END}"


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:,.{1 if abs(n) < 100 * scale else 0}f} {unit}"
    return f"{n:,.0f} B"


def figures(r: StorageResults) -> list[tuple[str, str, str]]:
    """(what, PostgreSQL, SQLite) rows of the main table."""
    pg, lite = r.run("postgresql"), r.run("sqlite")
    rows = [
        ("a report's rows when it is filed, no photo", _size(pg.per_report), _size(lite.per_report)),
        ("its life after that: accepted, resolved, rated (rows, no photo)", _size(pg.per_life), _size(lite.per_life)),
    ]
    for name, what in (("chat photos", "a chat photo"), ("camera files", "a camera file")):
        sent = pg.input_per_photo(name)
        rows.append(
            (
                f"{what} (sent: {_size(sent)}), both forms stored",
                f"{_size(pg.per_photo(name))} ({pg.per_photo(name) / sent:.2f}× sent)",
                f"{_size(lite.per_photo(name))} ({lite.per_photo(name) / sent:.2f}× sent)",
            )
        )
    year = "a year of 1 000 reports/day, each resolved"
    rows.append((f"{year}: rows only", _size(pg.per_year(None)), _size(lite.per_year(None))))
    for name, what in (("chat photos", "a chat photo"), ("camera files", "a camera file")):
        label = f"{year}: {what} each, a chat photo after"
        rows.append((label, _size(pg.per_year(name)), _size(lite.per_year(name))))
    return rows


def _growth(run: BackendRun) -> list[str]:
    """Where each phase's bytes went, per report (rows) or per photo."""
    out = []
    for phase in run.phases:
        per = phase.photos or phase.reports
        grown = phase.table_growth()
        parts = [f"{name} {_size(b / per)}" for name, b in list(grown.items())[:8]]
        if phase.after.photo_files != phase.before.photo_files:
            files = phase.after.photo_files - phase.before.photo_files
            count = phase.after.photo_file_count - phase.before.photo_file_count
            parts.insert(0, f"photo files {_size(files / per)} ({count / per:.0f} files)")
        unit = "resolved report" if phase.name == "resolved" else "photo" if phase.photos else "report"
        out.append(
            f"| {run.backend} | {phase.name} | {phase.reports} | {_size(phase.grew)} | {_size(phase.grew / per)}"
            f" per {unit} | {', '.join(parts) or '—'} |"
        )
    return out


def analysis(r: StorageResults) -> str:
    pg, lite = r.run("postgresql"), r.run("sqlite")
    cam, chat = pg.per_photo("camera files"), pg.per_photo("chat photos")
    cam_sent, chat_sent = pg.input_per_photo("camera files"), pg.input_per_photo("chat photos")
    in_tables = sum(pg.phase("camera files").table_growth().get(t, 0) for t in PHOTO_TABLES)
    camera_phase = lite.phase("camera files")
    as_files = camera_phase.after.photo_files - camera_phase.before.photo_files
    w, h = r.plan.camera
    rows = (
        f"{_size(pg.per_report)} when filed and {_size(pg.per_life)} more over its life on PostgreSQL"
        f" ({_size(lite.per_report)} and {_size(lite.per_life)} on SQLite"
    )
    return f"""\
**What the figures say.** A photo is stored twice — the rider's original byte for byte (evidence; it may carry
the location) and the shareable JPEG re-encoded without metadata at quality 85 — so a photo costs its sent size
plus its re-encode: {chat / chat_sent:.2f}× what was sent for a chat photo, {cam / cam_sent:.2f}× for a camera
file (the synthetic photo keeps its sensor noise, which quality 85 still pays for; a real phone's photo, denoised
before it is encoded, may re-encode smaller — `--photo` measures a city's own). The shareable copy is only reduced
above {MAX_SHARED_SIDE} px on the long side (`MAX_SHARED_SIDE`), so a {w} × {h} camera photo keeps all its pixels
in both forms. Photos are nearly all of the growth: a report's own rows are {rows}: PostgreSQL's
23-byte tuple headers and 8-byte alignment, and its indexes at their fill factor, against SQLite's varint
records), against {_size(chat)} for one chat photo and {_size(cam)} for one camera file. PostgreSQL stores a JPEG
in TOAST uncompressed (pglz gives up on compressed data) in chunks of about 2 KB; the photo tables grew
{in_tables / as_files:.3f}× what the same photos take as files on SQLite. How riders send photos decides the size
of the database by a factor of about {cam / chat:.0f}: as a photo (Telegram's default: its 1280 px re-encode
reaches the bot) or as a file (the phone's original, which also carries the location). Plan the disk from a city's
own mix; the sizing table in docs/SCALING.md takes both ends.
"""


def block(r: StorageResults) -> str:
    table = ["| | PostgreSQL | SQLite (photos as files) |", "|---|---|---|"]
    table += [f"| {what} | {pg} | {lite} |" for what, pg, lite in figures(r)]
    growth = ["| backend | phase | reports | grew | each | where (largest first) |", "|---|---|---|---|---|---|"]
    for run in r.runs:
        growth += _growth(run)
    load = ", ".join(f"{x:.1f}" for x in r.load_before)
    parts = [
        BEGIN,
        f"### Run of {r.started_utc}",
        "",
        f"Machine: {r.machine}; load average before: {load}. Photos: {r.photo_source}. Reports per phase:"
        f" {', '.join(f'{name} {n}' for name, n in zip(PHASES, r.plan.reports, strict=True))}; each report has one"
        f" photo. {r.elapsed_s:.0f} s in all.",
        "",
        *table,
        "",
        analysis(r),
        "Where the bytes went (the photo phases' rows include their reports' rows):",
        "",
        *growth,
        "",
        *log_details(r.log),
        END,
    ]
    return "\n".join(parts)


def current(path: Path) -> str:
    """The whole section as it stands in the file (heading to end marker), or "" when there is none."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    if HEADING not in text or END not in text:
        return ""
    return text[text.index(HEADING) : text.index(END) + len(END)]


def write(r: StorageResults, path: Path) -> None:
    """Replace the section (heading, prose, block) or append it at the end of the file."""
    section = f"{HEADING}\n\n{INTRO}\n{block(r)}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    if HEADING in text and END in text:
        text = text[: text.index(HEADING)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + f"\n\n{section}\n"
    path.write_text(text, encoding="utf-8")
