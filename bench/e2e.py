"""Figure 2: location queries end to end — update in through getUpdates, nearest stations out through
sendMessage — against a minimal PTB echo bot in the same harness (the framework's ceiling).

Both bots are PTB Applications built with the same builder settings (base URL, connection pool, read timeout,
rate limiter, sequential update processing — PTB's default and ours) polling a fresh stand-in over HTTP on
127.0.0.1. Simulated riders run closed loops (share a location, wait for the answer, again), a bounded number
of queries with a deadline. Three loads:

* capacity: 64 riders at once with the flood limits off — what the code can do;
* one rider: a single rider alone — the latency a person feels on an idle bot;
* deployed: 64 riders with the production AIORateLimiter — what Telegram's ~30 messages/s lets through.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench import synth
from bench.common import pct
from bench.harness import TimedStandIn, bench_settings, make_db, running, standin, unthrottled_limiter
from bot.standin.server import DEMO_TOKEN

RIDER_BASE = 50_000_000


@dataclass
class Load:
    name: str
    riders: int
    queries: int
    deployed_limits: bool
    deadline_s: float


@dataclass
class LoadResult:
    name: str
    bot: str
    done: int
    elapsed_s: float
    p50_s: float
    p99_s: float
    timeouts: int

    @property
    def per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s else 0.0


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    loc = update.effective_message.location
    await update.effective_message.reply_text(f"📍 {loc.latitude:.5f}, {loc.longitude:.5f}")


def _echo_application(server: TimedStandIn, deployed_limits: bool) -> Application:
    """The same builder calls as `bot.app.build_application`, with one handler that echoes the location."""
    limiter = AIORateLimiter(max_retries=3) if deployed_limits else unthrottled_limiter()
    application = (
        ApplicationBuilder()
        .token(DEMO_TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .rate_limiter(limiter)
        .connection_pool_size(16)
        .get_updates_read_timeout(40)
        .build()
    )
    application.add_handler(MessageHandler(filters.LOCATION, _echo))
    return application


async def _drive(server: TimedStandIn, load: Load, points: list[tuple[float, float]]) -> LoadResult:
    """Closed loops: each rider shares a location and waits for the answer before the next one."""
    latencies: list[float] = []
    timeouts = 0
    remaining = load.queries
    loop = asyncio.get_running_loop()
    deadline = loop.time() + load.deadline_s

    async def rider(r: int) -> None:
        nonlocal remaining, timeouts
        uid = RIDER_BASE + r
        i = r
        while remaining > 0 and loop.time() < deadline:
            remaining -= 1
            lat, lon = points[i % len(points)]
            i += load.riders
            fut = server.expect(uid)
            t0 = time.perf_counter()
            server.inject_message(uid, location=(lat, lon), first_name=f"骑手{r}")
            try:
                arrived = await asyncio.wait_for(fut, timeout=max(0.1, deadline - loop.time()))
            except TimeoutError:
                timeouts += 1
                return
            latencies.append(arrived - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(rider(r) for r in range(load.riders)))
    elapsed = time.perf_counter() - t0
    return LoadResult(load.name, "", len(latencies), elapsed, pct(latencies, 50), pct(latencies, 99), timeouts)


async def _warm(server: TimedStandIn, riders: int) -> None:
    """Every rider speaks once first (the real bot creates the user row on first contact)."""
    await _drive(server, Load("warm", riders, riders, False, 30.0), [(31.2304, 121.4737)])


async def _run_echo(load: Load, points: list[tuple[float, float]]) -> LoadResult:
    async with standin() as server:
        application = _echo_application(server, load.deployed_limits)
        await application.initialize()
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=10, drop_pending_updates=False, bootstrap_retries=3)
        try:
            await _warm(server, load.riders)
            result = await _drive(server, load, points)
        finally:
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
    result.bot = "echo"
    return result


async def _run_rider_bot(load: Load, points: list[tuple[float, float]], db: Path) -> LoadResult:
    async with standin() as server:
        settings = bench_settings(db, server)
        async with running(settings, deployed_limits=load.deployed_limits):
            await _warm(server, load.riders)
            result = await _drive(server, load, points)
    result.bot = "rider-bot"
    return result


async def run(stations: int, loads: list[Load], log) -> list[tuple[LoadResult, LoadResult]]:  # type: ignore[no-untyped-def]
    points = synth.queries(4000, seed=7)
    out = []
    with tempfile.TemporaryDirectory(prefix="rider-bench-") as tmp:
        template = Path(tmp) / "template.sqlite3"
        await make_db(template, stations)
        for n, load in enumerate(loads):
            db = Path(tmp) / f"e2e-{n}.sqlite3"
            db.write_bytes(template.read_bytes())  # each run starts from the same database
            echo = await _run_echo(load, points)
            real = await _run_rider_bot(load, points, db)
            for r in (echo, real):
                log(
                    f"  e2e {load.name:9} {r.bot:9}: {r.per_s:7.1f} answers/s  p50 {r.p50_s * 1e3:6.2f} ms"
                    f"  p99 {r.p99_s * 1e3:7.2f} ms  ({r.done} answers, {r.timeouts} timeouts, {r.elapsed_s:.1f} s)"
                )
            out.append((echo, real))
    return out
