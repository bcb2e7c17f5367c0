"""Figure 3: durable 随手拍 intake — a report and its outbox rows committed before the rider is told — against
a bare aiosqlite insert loop with the same durability settings (WAL, synchronous=NORMAL, one transaction per
report, the same database file layout).

The core is called directly through `open_services` (no chat door), the way the Telegram and WeChat doors call
it, with production settings (5 reports per rider per hour: many riders instead of a raised limit) and one
grid worker bound to every sample grid, so each report is routed and forwarded for real. Two paths:

* submit: the rider taps 提交 on a finished draft (`on_draft_button(ok)`): the draft is read, the rate limit
  checked, the grid routed, and report + photo + follower + events + outbox rows + draft removal are committed
  in one transaction before the reply exists — the durable step the figure is about;
* whole dialog: photo → location → category → skip words → submit, every step persisted (drafts survive a
  restart), i.e. the server's cost of one complete 随手拍.

Reports are submitted one after another, as PTB hands a bot its updates one at a time.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bench.common import pct
from bot.config import Settings
from bot.reports import actions
from bot.reports.actions import DraftAction
from bot.reports.categories import CATEGORIES
from bot.services.container import Services, open_services
from bot.store import dialogs
from bot.store.users import User
from tests.reporting import jpeg

RIDER_BASE = 60_000_000
WORKER_BASE = 70_000_000


@dataclass
class IntakeResult:
    submit_per_s: float
    submit_p50_s: float
    submit_p99_s: float
    dialog_per_s: float
    dialog_p50_s: float
    bare_per_s: float  # one report row + one outbox row per transaction
    bare_same_rows_per_s: float  # every row the service writes, as plain inserts, one transaction per report
    rows_per_report: dict[str, float]
    reports: int
    committed_before_ack: bool


def points_in_grids(services: Services, n: int, seed: int = 5) -> list[tuple[float, float, str]]:
    """Random points inside the sample grids (rejection sampling over their bounding box)."""
    rng = random.Random(seed)
    out: list[tuple[float, float, str]] = []
    for _ in range(200 * n):
        lat, lon = rng.uniform(34.18, 34.33), rng.uniform(117.10, 117.32)
        route = services.grids.route(lat, lon)
        if route.how == "inside" and route.grid is not None:
            out.append((lat, lon, route.grid.id))
            if len(out) == n:
                break
    if not out:
        raise RuntimeError("no sample grid found: is data/grids.csv loaded?")
    return out


async def bind_workers(services: Services) -> int:
    """One worker per grid, granted the way an invite code would."""
    grids = services.grids.grids("grid")
    for i, grid in enumerate(grids):
        worker = await services.users.identify("telegram", str(WORKER_BASE + i), f"网格员{i}")
        await services.roles.grant(worker.id, "worker", grid.id, "bench")
    return len(grids)


def _copy_db(src: Path, dst: Path) -> None:
    """The bare loop writes into a copy of the service's database: same schema, indexes, triggers and size."""
    dst.write_bytes(src.read_bytes())


def _stamp() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _draft(sha: str, lat: float, lon: float, i: int) -> dict:
    return {
        "photos": [{"sha256": sha, "file_ref": ""}],
        "lat": lat,
        "lon": lon,
        "category": CATEGORIES[i % len(CATEGORIES)].token,
        "description": "消防通道被电动车堵住了",
        "asked_words": True,
        "dup_checked": True,
    }


async def _submit_path(  # type: ignore[no-untyped-def]
    services: Services, riders: list[User], points, n: int, tap: Callable[[], AbstractContextManager] = nullcontext
) -> tuple[list[float], bool]:
    """Rounds of: finished drafts for every rider (not timed), then each rider taps 提交 (timed, inside `tap()`)."""
    sha = (await services.photos.put(jpeg())).sha256
    times: list[float] = []
    committed = True
    i = 0
    while i < n:
        batch = riders[: min(len(riders), n - i)]
        for j, rider in enumerate(batch):
            lat, lon, _ = points[(i + j) % len(points)]
            draft = _draft(sha, lat, lon, i + j)
            draft["skipped"] = [q.code for q in services.reports.questions.for_category(draft["category"])]
            await dialogs.put_dialog(services.db, rider.id, "report", draft, _stamp())
        for rider in batch:
            with tap():
                t0 = time.perf_counter()
                reply = await services.reports.on_draft_button(rider, DraftAction("ok"))
                times.append(time.perf_counter() - t0)
            i += 1
            if i % 97 == 0:  # spot check: the acknowledged report is already committed, with its outbox rows
                # The receipt "已收到，编号 SP-…" is an outbox row of the submit (Reply.queued), not a direct message.
                [receipt] = await services.db.fetchall("SELECT payload FROM outbox WHERE idem_key = ?", reply.queued)
                ref = re.search(r"SP-(\d+)", receipt[0])
                assert ref is not None, receipt[0]
                row = await services.db.fetchone("SELECT COUNT(*) FROM reports WHERE id = ?", (int(ref.group(1)),))
                committed &= bool(row and row[0] == 1)
    return times, committed


async def _answer_questions(rs: Any, rider: User, reply: Any) -> Any:
    """A category's own questions (data/categories.toml), answered as a rider would: skip, or the last choice."""
    for _ in range(12):
        datas = [b["data"] for m in reply.messages for row in m.get("buttons") or [] for b in row if "data" in b]
        asked = [d for d in datas if d.startswith("rd:a:")]
        if not asked:
            return reply
        special = [d for d in asked if d.endswith((":_skip", ":_done"))]
        values = [d for d in asked if d not in special]
        ticked = any("☑" in str(m.get("buttons")) for m in reply.messages)
        pick = special[0] if special and (special[0].endswith(":_skip") or not values or ticked) else values[-1]
        reply = await rs.on_draft_button(rider, actions.parse(pick))
    return reply


async def _dialog_path(services: Services, riders: list[User], points, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    photo = jpeg((90, 120, 30))
    times: list[float] = []
    for i in range(n):
        rider = riders[i % len(riders)]
        lat, lon, _ = points[(i * 7) % len(points)]
        t0 = time.perf_counter()
        rs = services.reports
        await rs.on_photo(rider, photo, caption="")
        await rs.on_location(rider, lat, lon)
        await rs.on_draft_button(rider, DraftAction("cat", CATEGORIES[i % len(CATEGORIES)].token))
        reply = await rs.on_draft_button(rider, DraftAction("skip"))
        reply = await _answer_questions(rs, rider, reply)
        if any("rd:new" in str(m.get("buttons")) for m in reply.messages):  # a similar open report nearby
            await rs.on_draft_button(rider, DraftAction("new"))
        reply = await rs.on_draft_button(rider, DraftAction("ok"))
        times.append(time.perf_counter() - t0)
        assert reply.queued and reply.queued[0].endswith(":receipt"), reply  # "已收到" is an outbox row
    return times


async def _bare(path: Path, n: int, rows: dict[str, float]) -> tuple[float, float]:
    """The baseline: aiosqlite inserts, same pragmas, a transaction per report. First one report row + one
    outbox row; then the same number of rows per table as the service wrote."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA foreign_keys=ON")
    now = _stamp()
    rates = []
    try:
        for same_rows in (False, True):
            outbox_rows = round(rows["outbox"]) if same_rows else 1
            t0 = time.perf_counter()
            for _ in range(n):
                await conn.execute("BEGIN IMMEDIATE")
                cur = await conn.execute(
                    "INSERT INTO reports (reporter_id, category, lat, lon, description, status, created_at,"
                    " updated_at) VALUES (1, 'road', 34.25, 117.2, '消防通道被电动车堵住了', 'new', ?, ?)",
                    (now, now),
                )
                rid = cur.lastrowid
                if same_rows:
                    await conn.execute(
                        "INSERT INTO report_photos (report_id, seq, phase, sha256) VALUES (?, 1, 'before', 'x')", (rid,)
                    )
                    await conn.execute("INSERT INTO report_followers (report_id, user_id) VALUES (?, 1)", (rid,))
                    for _ in range(round(rows["report_events"])):
                        await conn.execute(
                            "INSERT INTO report_events (report_id, at, action) VALUES (?, ?, 'create')", (rid, now)
                        )
                    await conn.execute("UPDATE reports SET status = 'forwarded', version = 2 WHERE id = ?", (rid,))
                for k in range(outbox_rows):
                    await conn.execute(
                        "INSERT INTO outbox (idem_key, channel, address, payload, next_at, created_at)"
                        ' VALUES (?, \'telegram\', \'1\', \'{"kind": "text", "text": "…"}\', ?, ?)',
                        (f"bare{same_rows}:{rid}:{k}", now, now),
                    )
                await conn.execute("COMMIT")
            rates.append(n / (time.perf_counter() - t0))
    finally:
        await conn.close()
    return rates[0], rates[1]


async def run(n_submit: int, n_dialog: int, log) -> IntakeResult:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix="rider-bench-") as tmp:
        settings = Settings(
            db_path=Path(tmp) / "intake.sqlite3", http_port=None, demo_people=False, categories_toml=None
        )
        assert settings.reports_per_hour == 5  # production limit: spread over riders, not raised
        services = await open_services(settings)
        try:
            await bind_workers(services)
            points = points_in_grids(services, 400)
            per_rider = settings.reports_per_hour
            n_riders = -(-(n_submit + n_dialog) // per_rider) + 1
            riders = [
                await services.users.identify("telegram", str(RIDER_BASE + i), f"骑手{i}") for i in range(n_riders)
            ]
            submit_times, committed = await _submit_path(
                services, riders[: -(-n_submit // per_rider)], points, n_submit
            )
            base = {t: (await services.db.fetchone(f"SELECT COUNT(*) FROM {t}"))[0] for t in ("reports",)}
            counts = {}
            for table in ("reports", "outbox", "report_events", "report_photos", "report_followers"):
                counts[table] = (await services.db.fetchone(f"SELECT COUNT(*) FROM {table}"))[0] / base["reports"]
            dialog_times = await _dialog_path(services, riders[-(-n_submit // per_rider) :], points, n_dialog)
        finally:
            await services.close()
        bare_path = Path(tmp) / "bare.sqlite3"
        await asyncio.to_thread(_copy_db, settings.db_path, bare_path)
        bare, bare_same = await _bare(bare_path, n_submit, counts)
    result = IntakeResult(
        submit_per_s=len(submit_times) / sum(submit_times),
        submit_p50_s=pct(submit_times, 50),
        submit_p99_s=pct(submit_times, 99),
        dialog_per_s=len(dialog_times) / sum(dialog_times),
        dialog_p50_s=pct(dialog_times, 50),
        bare_per_s=bare,
        bare_same_rows_per_s=bare_same,
        rows_per_report=counts,
        reports=n_submit,
        committed_before_ack=committed,
    )
    log(
        f"  intake submit {result.submit_per_s:7.1f}/s (p50 {result.submit_p50_s * 1e3:.2f} ms,"
        f" p99 {result.submit_p99_s * 1e3:.2f} ms); whole dialog {result.dialog_per_s:6.1f}/s;"
        f" bare {bare:7.1f}/s; bare same rows {bare_same:7.1f}/s; rows/report {counts}"
    )
    return result


if __name__ == "__main__":
    asyncio.run(run(500, 50, print))
