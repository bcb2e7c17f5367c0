"""Scale-out (issue 12): PostgreSQL + 3 `rider-bot run` processes in webhook mode behind Debian's nginx, and a
fake Telegram (the Bot API stand-in, in this test process) posting updates to nginx several at a time, retrying
non-2xx answers as Telegram does. Built on tests/cluster.py (which the benchmarks use too).

PostgreSQL pass only: SQLite is one process by design (docs/SCALING.md).
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from bot.services.container import Services
from tests import pgcluster
from tests.cluster import NGINX, REPO, Cluster
from tests.scaleriders import GRID_WORKERS, Rider, Spot, finder_answers

pytestmark = [
    pytest.mark.skipif(pgcluster.backend() != "postgresql", reason="several processes need PostgreSQL (PG pass)"),
    pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (scripts/test installs it)"),
]

XUZHOU_BOX = ((34.15, 34.35), (117.05, 117.30))


async def bind_grid_workers(services: Services) -> None:
    for grid, worker in GRID_WORKERS.items():
        person = await services.users.identify("telegram", str(worker), f"网格员{worker}")
        await services.roles.grant(person.id, "worker", grid, "test")


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


async def test_three_workers_behind_nginx_answer_every_question_once(pg_url: str) -> None:
    """The plumbing: every chat's finder questions, sent several at once, answered once each, with the work
    spread over the processes; a worker killed with SIGKILL costs no answer (nginx sends the next POST to a live
    worker, Telegram retries the one that got a 502). The order of a chat's answers is the full test's."""
    root = Path(tempfile.mkdtemp(prefix="rider-scale-"))
    spots: list[Spot] = []

    async def prepare(services: Services) -> None:
        spots.extend(finder_spots(services, 8))

    cluster = Cluster(root, database=pg_url, workers=3)
    passed = False
    try:
        await cluster.start(prepare)
        rng = random.Random(12)
        riders = [Rider(cluster.telegram, 50_001 + i, spots, random.Random(rng.random())) for i in range(12)]

        async def ask(rider: Rider, bursts: int) -> None:
            for _ in range(bursts):
                await rider.burst(3)

        await asyncio.gather(*(ask(r, 2) for r in riders))
        await cluster.kill(1)
        await asyncio.gather(*(ask(r, 2) for r in riders))
        for rider in riders:
            expected = [name for burst in rider.bursts for name in burst]
            got = finder_answers(cluster.telegram, rider.user_id)
            assert len(got) == len(expected), f"chat {rider.user_id}: {len(got)} answers to {len(expected)} questions"
            named = sorted(max((n for n in set(expected) if n in line), key=len, default=line) for line in got)
            assert named == sorted(expected), f"chat {rider.user_id}: asked {expected}, answered {got}"
        per_worker = [handled_by(await cluster.metrics(i)) for i in (0, 2)]
        assert all(n > 0 for n in per_worker), f"nginx spread the updates: {per_worker}"
        passed = True
    finally:
        await cluster.stop()
        if passed:
            shutil.rmtree(root, ignore_errors=True)
        else:
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
