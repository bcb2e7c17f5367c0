"""Scale-out (issue 12): PostgreSQL + 3 `rider-bot run` processes in webhook mode behind Debian's nginx, and a
fake Telegram (the Bot API stand-in, in this test process) posting updates to nginx several at a time (as
Telegram's max_connections allows), retrying non-2xx answers as Telegram does. Built on tests/cluster.py (which
the benchmarks use too).

- 50 chats × 20 updates (finder bursts and two complete 随手拍 reports each) while one worker and then the leader
  are SIGKILLed (and restarted, as systemd would): nothing acknowledged lost, nothing acted twice, each chat's
  answers in order, every notice delivered (at most one extra copy per kill), a new leader within 10 s, no orphans.
- A place import through the CLI reaches every process within 5 s.

PostgreSQL pass only: SQLite is one process by design (docs/SCALING.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.services.container import Services
from tests import pgcluster
from tests.cluster import NGINX, REPO, Cluster
from tests.riderchat import GRID_WORKERS, bind_grid_workers
from tests.scaleriders import Rider, Spot, finder_answers

pytestmark = [
    pytest.mark.skipif(pgcluster.backend() != "postgresql", reason="several processes need PostgreSQL (PG pass)"),
    pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (scripts/test installs it)"),
]

XUZHOU_BOX = ((34.15, 34.35), (117.05, 117.30))


def finder_spots(services: Services, n: int) -> list[Spot]:
    """Stations in Xuzhou that the finder names first when asked at their own location."""
    catalog = services.finder.catalog
    (la0, la1), (lo0, lo1) = XUZHOU_BOX
    spots = []
    for place in catalog.places:
        if place.kind != "station" or not (la0 < place.lat < la1 and lo0 < place.lon < lo1):
            continue
        nearest = catalog.nearest(place.lat, place.lon, 2, kinds={"station", "canteen"})
        if nearest[0][0].id == place.id and nearest[1][1] > 100:  # alone within 100 m: unambiguous
            spots.append(Spot(place.name, place.lat, place.lon))
        if len(spots) == n:
            break
    assert len(spots) == n, f"only {len(spots)} distinct stations in Xuzhou"
    return spots


def handled_by(metrics_text: str | None) -> float:
    """Updates a process handled, from its /metrics (rider_updates_total)."""
    return sum(
        float(v)
        for v in re.findall(r'^rider_updates_total\{channel="telegram"[^}]*\} (\S+)$', metrics_text or "", re.M)
    )


# ---------------------------------------------------------------------------------------------- the full test

CHATS, UPDATES = 50, 20
TAKEOVER_S = 10.0
RERUN = re.compile(
    r"re-running interrupted update (\d+)"
)  # issue 12: another process dispatches within 10 s of the leader's death


def due_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def read(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    return await asyncio.to_thread(pgcluster.read, url, sql, params)


async def drained(url: str, timeout: float) -> None:  # noqa: ASYNC109
    """Until no due outbox row is open (receipts at any time): bounded polling of the database."""
    deadline = time.monotonic() + timeout
    sql = (
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
        " AND (next_at <= ? OR idem_key LIKE '%:receipt')"
    )
    while (left := (await read(url, sql, (due_now(),)))[0][0]) != 0:
        assert time.monotonic() < deadline, f"{left} due outbox rows not sent after {timeout:g}s"
        await asyncio.sleep(0.2)


def in_order(expected: list[str], got: list[str]) -> int:
    """`expected` must be a subsequence of `got` (answers in the order asked); returns how many answers are
    extra (an update re-run after a kill that had sent its answer but not yet marked it done)."""
    position = 0
    for name in expected:
        while position < len(got) and name not in got[position]:
            position += 1
        assert position < len(got), f"answers out of order or missing: asked {expected}, answered {got}"
        position += 1
    return len(got) - len(expected)


async def keep_evidence(cluster: Cluster, url: str, riders: list[Rider]) -> None:
    """For a failed run: what Telegram saw, each rider's update ids and the ledger, beside the logs."""
    with contextlib.suppress(Exception):
        cluster.dump([r.user_id for r in riders])
        ledger = await read(url, "SELECT key, done, at FROM inbound_seen WHERE channel = 'telegram'")
        data = {"riders": {r.user_id: r.update_ids for r in riders}, "inbound_seen": [list(r) for r in ledger]}
        (cluster.root / "riders.json").write_text(json.dumps(data, default=str), encoding="utf-8")


def signature(message: dict) -> tuple:
    if "photo" in message:
        return ("photo", message.get("caption", ""))
    if "venue" in message:
        return ("venue", message["venue"]["title"])
    return ("text", message.get("text", ""))


async def test_fifty_chats_through_three_workers_survive_a_worker_kill_and_a_leader_kill(pg_url: str) -> None:
    """50 chats × 20 updates (finder bursts and two complete 随手拍 reports each) through nginx to 3 processes;
    SIGKILL a worker that does not lead, then the leader (outbox dispatcher + scheduler), each restarted as
    systemd would. Then: every acknowledged report stored once and forwarded; every update recorded and done,
    acted once (no photo attached twice; an answer twice only for an update re-run after a kill); answers in the order
    of its questions; every outbox notice delivered, at most one extra copy per kill; a new leader within 10 s;
    no orphan rows, nothing left 'sending'."""
    root = Path(tempfile.mkdtemp(prefix="rider-scale-"))
    spots: list[Spot] = []

    async def prepare(services: Services) -> None:
        await bind_grid_workers(services)
        spots.extend(finder_spots(services, 8))

    cluster = Cluster(root, database=pg_url, workers=3)
    passed = False
    work: asyncio.Future | None = None
    riders: list[Rider] = []
    try:
        await cluster.start(prepare)
        telegram = cluster.telegram
        rng = random.Random(20261201)
        riders += [Rider(telegram, 60_001 + i, spots, random.Random(rng.random()), UPDATES) for i in range(CHATS)]
        total_reports = 2 * CHATS
        work = asyncio.gather(*(r.run() for r in riders))

        async def until_acked(fraction: float) -> None:
            deadline = time.monotonic() + 120
            while sum(len(r.acks) for r in riders) < total_reports * fraction and not work.done():
                assert time.monotonic() < deadline, "the riders made no progress"
                await asyncio.sleep(0.05)

        first_leader, _ = await cluster.wait_leader(30)
        await until_acked(0.3)
        victim = next(i for i in cluster.alive() if i != first_leader)
        await cluster.kill(victim)
        await cluster.restart(victim)
        await until_acked(0.6)
        leader = await cluster.leader()
        assert leader is not None, "no single leader before the second kill"
        await cluster.kill(leader)
        killed_at = time.time()
        successor, took_over_at = await cluster.wait_leader(30, other_than=leader)
        takeover = took_over_at - killed_at
        assert takeover <= TAKEOVER_S, f"worker {successor} took over {takeover:.1f}s after the leader's death"
        await cluster.restart(leader)
        await asyncio.wait_for(work, 180)
        spread = [handled_by(await cluster.metrics(i)) for i in range(3)]
        assert sum(n > 0 for n in spread) >= 2, f"nginx spread the updates over the workers: {spread}"
        kills = 2
        await drained(pg_url, 60)
        await asyncio.sleep(0.3)  # the last sends' answers reach the stand-in's chat state

        # Every acknowledged report is in the database once, its rider's, forwarded to a grid worker.
        reports = await read(
            pg_url,
            "SELECT r.id, u.external_id,"
            " (SELECT COUNT(*) - COUNT(DISTINCT p.file_ref) FROM report_photos p WHERE p.report_id = r.id)"
            " FROM reports r JOIN users u ON u.id = r.reporter_id",
        )
        by_ref = {f"SP-{r[0]:06d}": r for r in reports}
        acked = [(ref, str(rider.user_id)) for rider in riders for ref in rider.acks]
        assert len(acked) == total_reports and len({ref for ref, _ in acked}) == total_reports
        for ref, rider_id in acked:
            assert ref in by_ref and by_ref[ref][1] == rider_id, f"{ref} acknowledged to {rider_id}, not stored"
        assert len(reports) == total_reports, f"{len(reports)} reports stored for {total_reports} acknowledged"
        assert not [r[0] for r in reports if r[2]], "a photo message attached twice: an update handled twice"
        photos = (await read(pg_url, "SELECT COUNT(*) FROM report_photos"))[0][0]
        assert sum(d["found"] for d in telegram.downloads) >= photos, "a stored photo never downloaded (getFile)"
        cards = Counter(
            ref
            for chat in GRID_WORKERS.values()
            for m in telegram.bot_messages(chat)
            for ref in re.findall(r"SP-\d+", m.get("caption", "") + m.get("text", ""))
        )
        assert not [ref for ref in by_ref if not cards[ref]], "reports never forwarded to their grid worker"

        # Every update the riders sent was recorded once (inbound_seen) and finished.
        sent = {u for d in telegram.webhook_deliveries if d["status"] == 200 for u in [d["update_id"]]}
        seen = dict(await read(pg_url, "SELECT key, done FROM inbound_seen WHERE channel = 'telegram'"))
        assert all(r.sent >= UPDATES for r in riders)
        assert telegram.webhook_info()["pending_update_count"] == 0
        given_up = {d["update_id"] for d in telegram.webhook_deliveries} - sent
        assert not given_up, f"updates Telegram gave up delivering: {sorted(given_up)[:10]}"
        missing = {u for u in sent if str(u) not in seen}
        assert not missing, f"updates answered 200 but never recorded: {sorted(missing)[:10]}"
        unfinished = [k for k, done in seen.items() if not done]
        assert not unfinished, f"updates recorded but never finished: {unfinished[:10]}"

        # Each chat's answers in the order of its questions, each once — except that an update a kill interrupted
        # between its answer and its done mark is re-run and may answer again (docs/RELIABILITY.md): at most one
        # extra answer per re-run update of that chat.
        rerun = {int(n) for w in cluster.workers for n in RERUN.findall(w.log_text())}
        extra_answers = 0
        for rider in riders:
            expected = [name for burst in rider.bursts for name in burst]
            extra = in_order(expected, finder_answers(telegram, rider.user_id))
            allowed = len(rerun & set(rider.update_ids))
            assert extra <= allowed, f"chat {rider.user_id}: {extra} answers twice, {allowed} of its updates re-run"
            extra_answers += extra

        # Every notice delivered at least once, at most one extra copy per kill (the send a kill cut off).
        rows = await read(pg_url, "SELECT id, address, status, result_ref FROM outbox ORDER BY id")
        assert not [r for r in rows if r[2] == "sending"], "outbox rows left 'sending'"
        extra_copies = 0
        for chat in {int(r[1]) for r in rows}:
            messages = {m["message_id"]: m for m in telegram.bot_messages(chat)}
            recorded = {int(r[3]) for r in rows if int(r[1]) == chat and r[2] == "sent"}
            assert recorded <= messages.keys(), f"outbox rows of chat {chat} point at messages it does not have"
            if chat not in GRID_WORKERS.values():
                continue  # riders' chats hold the direct answers too; there only the recorded ids are checked
            for message_id, message in messages.items():
                if message_id not in recorded:
                    twin = messages.get(message_id + 1)
                    assert twin is not None and message_id + 1 in recorded, f"{message_id} in {chat} is no notice"
                    assert signature(twin) == signature(message), f"{message} is not a copy of {twin}"
                    extra_copies += 1
        assert not [r for r in rows if r[2] != "sent" and r[2] != "pending"], "dead outbox rows"
        assert extra_copies <= kills, f"{extra_copies} extra copies after {kills} kills"
        assert await asyncio.to_thread(pgcluster.integrity, pg_url) == "ok"
        print(
            f"reports {len(reports)}, updates {len(seen)}, takeover {takeover:.1f}s, re-run after kills {len(rerun)},"
            f" extra answers {extra_answers}, extra notice copies {extra_copies}"
        )
        passed = True
    finally:
        if work is not None and not work.done():
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
        await cluster.stop()
        if passed:
            shutil.rmtree(root, ignore_errors=True)
        else:
            await keep_evidence(cluster, pg_url, riders)
            print(f"scale-out files kept in {root}")


# ---------------------------------------------------------------------------------------------- place imports

NEW_PLACE = "scale-test-new-station"
FAR_CORNER = (34.3300, 117.0600)  # in Xuzhou's coverage, away from every bundled place


async def test_a_place_import_through_the_cli_reaches_every_process_within_5_s(pg_url: str) -> None:
    """`rider-bot stations import` on one host; each process (asked directly, not through nginx) names the new
    station at its own location within 5 s of the command's end, without a restart."""
    root = Path(tempfile.mkdtemp(prefix="rider-scale-"))
    cluster = Cluster(root, database=pg_url, workers=3)
    passed = False
    try:
        await cluster.start()
        telegram = cluster.telegram
        user = 70_001

        async def first_answer(index: int) -> str:
            """The text of the bot's answer to a location at FAR_CORNER, asked of worker `index`."""
            before = telegram.last_seq(user)
            await cluster.post_to(index, user, location=FAR_CORNER)
            [answer, *_] = await telegram.wait_for_bot_messages(user, 1, after_seq=before, timeout=15)
            return answer.get("text") or ""

        for index in range(3):
            assert "扩容测试驿站" not in await first_answer(index)
        csv = root / "new.csv"
        header = (REPO / "data" / "stations.csv").read_text("utf-8").splitlines()[0]
        row = {name: "" for name in header.split(",")}
        row |= {"id": NEW_PLACE, "name": "扩容测试驿站", "kind": "station", "city": "徐州", "district": "铜山区",
                "address": "铜山区扩容路1号", "lat": str(FAR_CORNER[0]), "lon": str(FAR_CORNER[1]),
                "coord_system": "wgs84", "hours": "24h", "amenities": "water"}  # fmt: skip
        csv.write_text(header + "\n" + ",".join(row[n] for n in header.split(",")) + "\n", encoding="utf-8")
        done = await cluster.cli("stations", "import", str(csv))
        imported_at = time.monotonic()
        assert done.returncode == 0, done.stderr
        late = []
        for index in range(3):
            while "扩容测试驿站" not in await first_answer(index):
                assert time.monotonic() - imported_at <= 5.0, f"worker {index} still answers without the import"
                await asyncio.sleep(0.2)
            late.append(time.monotonic() - imported_at)
        print(f"the import reached each process after {[round(t, 1) for t in late]} s")
        passed = True
    finally:
        await cluster.stop()
        if passed:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"scale-out files kept in {root}")
