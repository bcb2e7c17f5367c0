"""Section 7 of docs/PERFORMANCE.md from one `python -m bench.scaleout` run: the table, the analysis, the log.

The section lives between two markers; `python -m bench` (bench/report.py) keeps it as it is when it rewrites the
rest of the file, and this writes only between the markers."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.common import Figure, log_details, ms, pct
from bench.leading import TELEGRAM_CAP
from bench.multi import ClusterRun, MultiResult
from bench.report import _x, table
from bench.scaleout import ScaleResults
from bench.single import BACKENDS, Run, SingleResult

BEGIN, END = "<!-- scaleout -->", "<!-- /scaleout -->"
HEADING = "## 7. Scale-out: PostgreSQL and many processes"
NOT_RUN = f"{BEGIN}\n_(not measured yet: `python -m bench.scaleout`)_\n{END}"
INTRO = """\
Issue 12's figures: PostgreSQL against SQLite in one process, then 1, 2 and 4 bot processes behind nginx on one
PostgreSQL, the elected dispatcher's delivery rate against Telegram's 30 messages/s, and fail-over time. They come
from their own command, which rewrites only the part of this section between its markers (`python -m bench` keeps
it as it is):

```bash
python -m bench.scaleout --quick   # 2k stations, one round, 5 kills (5-8 minutes)
python -m bench.scaleout           # 10k stations, three interleaved rounds, 10 kills (10-20 minutes)
```

It starts its own PostgreSQL 15 (`bench/pgserver.py`) with a deployment's durability — every commit waits for its
WAL flush, PostgreSQL's default, which is *stricter* than the bot's SQLite (WAL, `synchronous=NORMAL`: a commit
reaches the OS, the disk at the next checkpoint); the `synchronous_commit=off` rows give the like-for-like
durability. **One process** (`bench/single.py`): the bot runs in the benchmark's process, as in sections 2 and 3,
once per backend per round on fresh copies of the same data, SQLite → PostgreSQL → PostgreSQL without the flush,
so each ratio compares measurements taken seconds apart. *Answers* are section 2's capacity load (closed-loop
riders sharing locations through the stand-in, flood limits off); *submits* are section 3's durable 随手拍 submit.
The number of database calls per operation is counted on both backends, and CPU time is read for the bot's
process and for every PostgreSQL server process, so the analysis can say where the time went.

**Many processes** (`bench/multi.py`) run on the scale-out test's harness (`tests/cluster.py`): `rider-bot run`
child processes in webhook mode behind Debian's nginx, the stand-in as Telegram posting updates to nginx with
several deliveries in flight, one process on SQLite and then 1, 2 and 4 on PostgreSQL, on copies of the same
data. *Answers* as above; *reports* are whole 随手拍 dialogs through the chat (photo → place → category → the
category's questions → 提交 → "已收到", `tests/scaleriders.py`'s scripted rider), counted at the receipt. The
children run with Telegram's flood limits off in PTB's rate limiter (`bench/childsite`, as section 2's capacity
load) and the harness's relaxed per-chat pacing. CPU seconds are read from /proc for the bots, nginx, PostgreSQL
and this process (the stand-in and the riders). **The dispatcher** (`bench/leading.py`): 2 processes with the
production pacing, a backlog queued at once in the database, the rate read from the stand-in's arrival times.
**Fail-over**: 3 processes; kill -9 the leader, queue a notice at that instant, time until it arrives (only
another process can send it); the killed process is restarted before the next kill.

This machine has 2 cores shared by every engineer working on it: absolute numbers move with their load, ratios
much less; each run says when it was taken and how loaded the machine was.
"""

_LABEL = {
    "sqlite": "SQLite",
    "postgresql": "PostgreSQL",
    "postgresql-nosync": "PostgreSQL, `synchronous_commit=off`",
}
_WORK = {"answers": ("finder answers end to end", "answers/s"), "submits": ("随手拍 submits", "submits/s")}


def _median(runs: list[Run], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def _runs(s: SingleResult, backend: str, work: str) -> list[Run]:
    return [r[(backend, work)] for r in s.rounds]


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return ""
    return f"; rounds {', '.join(_x(v) for v in values)}"


def single_figures(s: SingleResult | None) -> list[Figure]:
    if s is None or not s.rounds:
        return []
    out = []
    for work in ("answers", "submits"):
        what, unit = _WORK[work]
        base = _runs(s, "sqlite", work)
        for backend in BACKENDS[1:]:
            runs = _runs(s, backend, work)
            ratios = s.ratios(work, backend)
            ratio = statistics.median(ratios)
            deployed = backend == "postgresql"
            out.append(
                Figure(
                    f"one process, {what}, {_LABEL[backend]}",
                    f"{_median(runs, 'per_s'):,.0f} {unit}, p50 {ms(_median(runs, 'p50_s'))},"
                    f" {_median(runs, 'round_trips'):.1f} database calls each",
                    f"SQLite {_median(base, 'per_s'):,.0f} {unit}, p50 {ms(_median(base, 'p50_s'))},"
                    f" {_median(base, 'round_trips'):.1f} calls each",
                    ratio,
                    f"÷ SQLite, median of {len(ratios)} round(s){_spread(ratios)}",
                    "≥ 0.7× SQLite" if deployed else "",
                    ratio >= 0.7 if deployed else None,
                )
            )
    return out


def multi_figures(m: MultiResult | None) -> list[Figure]:
    if m is None or not m.runs:
        return []
    base, one = m.find("sqlite", 1), m.find("postgresql", 1)
    out = []
    for r in m.runs:
        if r.backend == "sqlite":
            continue
        works = (
            ("finder answers", "answers/s", lambda x: x.answers_per_s, lambda x: ms(x.answers_p50)),
            ("随手拍 reports, whole dialog", "reports/s", lambda x: x.reports_per_s, lambda x: f"{x.reports_p50:.1f}s"),
        )
        for work, unit, per_s, p50 in works:
            ratio = per_s(r) / per_s(base) if base and per_s(base) else None
            vs_one = per_s(r) / per_s(one) if one and per_s(one) else None
            target, met = "", None
            if r.workers == 1:
                target, met = "≥ 0.7× SQLite", ratio is not None and ratio >= 0.7
            elif r.workers == 2:
                target, met = "≥ 1.6× PostgreSQL ×1", vs_one is not None and vs_one >= 1.6
            note = "÷ SQLite ×1" + (f" (÷ PostgreSQL ×1: {_x(vs_one)})" if r.workers > 1 else "")
            out.append(
                Figure(
                    f"{r.workers} process{'es' if r.workers > 1 else ''} behind nginx, {work}, PostgreSQL",
                    f"{per_s(r):,.1f} {unit}, p50 {p50(r)}",
                    f"SQLite ×1: {per_s(base):,.1f} {unit}, p50 {p50(base)}" if base else "—",
                    ratio,
                    note,
                    target,
                    met,
                )
            )
    return out


def leading_figures(r: ScaleResults) -> list[Figure]:
    out = []
    if r.rate is not None:
        rate = r.rate
        out.append(
            Figure(
                "the elected dispatcher's delivery rate, 2 processes, production pacing",
                f"{rate.per_s:.1f} messages/s over the drain ({rate.delivered}/{rate.queued} delivered);"
                f" ≤ {rate.max_in_any_second} in any second; same-chat gap ≥ {rate.min_same_chat_gap_s:.2f} s",
                f"Telegram's cap {TELEGRAM_CAP:.0f} messages/s per bot token",
                rate.per_s / TELEGRAM_CAP,
                "÷ the cap",
                "≤ 30/s across all processes",
                rate.max_in_any_second <= TELEGRAM_CAP and rate.delivered == rate.queued,
            )
        )
    if r.failover is not None and r.failover.kills:
        f = r.failover
        out.append(
            Figure(
                f"fail-over: kill -9 the leader, until another process delivers ({len(f.kills)} kills)",
                f"p95 {f.p95:.2f} s, p50 {pct(f.kills, 50):.2f} s, max {max(f.kills):.2f} s",
                f"target 10 s; a new leader on /metrics after p50 {pct(f.leader_seen, 50):.2f} s",
                f.p95 / 10.0,
                "p95 ÷ 10 s",
                "p95 ≤ 10 s",
                f.p95 <= 10.0,
            )
        )
    return out


def _cpu_table(m: MultiResult) -> str:
    """CPU seconds per component over both measured phases, and how much of the machine's two cores that is."""
    rows = [
        "| configuration | bots | nginx | PostgreSQL | stand-in + riders | all ÷ (2 cores × wall) |"
        " CPU ms per answer-or-report step |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in m.runs:
        total = sum(r.cpu.values())
        share = total / (2 * r.measured_s) if r.measured_s else float("nan")
        steps = r.answers + 8 * r.reports  # a whole report is ~8 updates and answers
        rows.append(
            f"| {r.label} | {r.cpu.get('bots', 0):.1f} s | {r.cpu.get('nginx', 0):.1f} s |"
            f" {r.cpu.get('postgresql', 0):.1f} s | {r.cpu.get('driver', 0):.1f} s | {share:.0%} |"
            f" {total / max(1, steps) * 1e3:.1f} |"
        )
    return "\n".join(rows)


def bare_figure(s: SingleResult | None) -> list[Figure]:
    if s is None or not s.bare_pg_s:
        return []
    sq, pg = statistics.median(s.bare_sqlite_s), statistics.median(s.bare_pg_s)
    return [
        Figure(
            "one database call, nothing around it (`SELECT 1`), PostgreSQL over TCP",
            f"asyncpg {pg * 1e6:,.0f} µs",
            f"aiosqlite (a hop to its thread) {sq * 1e6:,.0f} µs",
            pg / sq,
            "PostgreSQL ÷ SQLite (cost, not throughput)",
            "",
            None,
        )
    ]


def _cpu_line(s: SingleResult, work: str) -> str:
    """CPU milliseconds per answer/submit: the bot's process (with the riders and the stand-in) and PostgreSQL's."""
    parts = []
    for backend in BACKENDS:
        runs = _runs(s, backend, work)
        own = statistics.median(r.cpu_bench_s / max(1, r.done) for r in runs) * 1e3
        text = f"{_LABEL[backend]}: {own:.1f} ms in the bot's process"
        if backend != "sqlite":
            server = statistics.median(r.cpu_pg_s / max(1, r.done) for r in runs) * 1e3
            text += f" + {server:.1f} ms in PostgreSQL"
        wall = statistics.median(r.elapsed_s / max(1, r.done) for r in runs) * 1e3
        parts.append(f"{text} (wall {wall:.1f} ms)")
    return "; ".join(parts)


def analysis(r: ScaleResults) -> str:
    s = r.single
    if s is None or not s.rounds:
        return ""
    ans, sub = statistics.median(s.ratios("answers")), statistics.median(s.ratios("submits"))
    nosync = statistics.median(s.ratios("submits", "postgresql-nosync"))
    bare = (
        f"asyncpg {statistics.median(s.bare_pg_s) * 1e6:,.0f} µs against aiosqlite's"
        f" {statistics.median(s.bare_sqlite_s) * 1e6:,.0f} µs"
        if s.bare_pg_s
        else "not measured"
    )
    calls = {
        (b, w): statistics.median(x.round_trips for x in _runs(s, b, w))
        for b in BACKENDS
        for w in ("answers", "submits")
    }
    return f"""\
**One process, PostgreSQL against SQLite.** This run: answers {ans:.2f}×, submits {sub:.2f}× (target ≥ 0.7×);
with `synchronous_commit=off` submits are {nosync:.2f}×. CPU per operation (median over rounds) — answers:
{_cpu_line(s, "answers")}. Submits: {_cpu_line(s, "submits")}.

Where the time goes (profiled with cProfile and per-statement counts, `bench/single.py`'s `count_calls`, on both
backends): a database call is a round trip on both — to aiosqlite's thread, or over TCP to a PostgreSQL backend
process — and an answer makes {calls[("sqlite", "answers")]:.0f} of them on SQLite and
{calls[("postgresql", "answers")]:.0f} on PostgreSQL, a submit {calls[("sqlite", "submits")]:.0f} and
{calls[("postgresql", "submits")]:.0f} (a PostgreSQL transaction adds BEGIN and COMMIT; a batch of rows is one
call on both). A PostgreSQL round trip wakes another *process* and waits for it to be scheduled, which on two
shared, busy cores costs more than its server work: in the profile the bot's remaining time is mostly `epoll`
waiting and `socket.send` (the send itself runs the loopback wake-up). The first row of the table measures that
floor in the same run — one `SELECT 1` and nothing else: {bare}. The submit's COMMIT waits for the WAL flush
(`fsync`), which SQLite's `synchronous=NORMAL` does not do: the `synchronous_commit=off` row is the like-for-like
durability comparison.

What was cut, in the store and in the services that made too many calls (before the cuts, the 17:29 UTC quick
run on a machine at load ~12: answers 0.46×, submits 0.27×; 7 and 22.2 calls on PostgreSQL; 11.1 and 6.2 ms of
the bot's CPU per answer and per submit):
- *A pool round per call* (bot/store/postgres.py). Every statement outside a transaction borrowed a connection
  from asyncpg's pool and gave it back; that acquire and release (a task for `asyncio.shield`, a proxy, a future)
  cost about twice the CPU of a short query itself. A connection that served a call cleanly is now kept for the
  next one (a failed, cancelled or closed one still goes back through the pool, which rolls back, waits out a
  cancellation or replaces it): a keyed `SELECT` through the store went from ~180 µs of the bot's CPU to ~50-90
  µs, measured back to back (asyncpg alone: ~35-45 µs). Each statement's translation, kind and RETURNING clause
  are looked up once (one dictionary read per call).
- *Calls a submit made twice or needlessly* (bot/reports/filing.py, service.py, bot/store/reports.py,
  bot/outbox/store.py): 29 → 18 calls on SQLite, 22 → 16 on PostgreSQL. The category's limits are read once for
  the routing and for the cards (not the report's category and then its limits twice), the answers just stored
  are not read back, a photo is numbered inside its INSERT, routing's UPDATE returns the report it changed
  (RETURNING), a report's cards go into the outbox in one batch (one round trip; asyncpg pipelines the rows), and
  an empty batch of answers is not sent. Then 18 → 14 on SQLite and 16 → 12 on PostgreSQL: a new report is
  inserted already routed (one INSERT … RETURNING instead of an INSERT and routing's UPDATE; its version is 2,
  counting both changes, as before), its two audit events (filed, routed) are one batch, the rider's receipt
  goes into the outbox in the same batch as the cards (ahead of them, with its grace), and the ban in force and
  the hour's count of reports are one read (bot/store/moderation.py `reporter_standing`).
- *A finder answer read the rider's dialog twice* (once for a suggested station's place, once for a report
  draft's place; a person has one dialog): `Services.location_answer` reads it once — 7 → 6 calls on both.
- Before these, after the first profile: asyncpg's reset query (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
  RESET ALL`) on every release — one more round trip per statement outside a transaction — and the dialect
  re-scanning every statement's text on every call.

Right after these cuts, three `--only single` runs at 19:45-19:47 UTC, while other work raised the load average
from 3 to 10, gave answers 1.13×, 0.72× and 0.51× and submits 0.36×, 0.39× and 0.45×: the bot's CPU per answer came
down (the CPU figures above, against 11.1 ms before), and on a quiet machine the finder meets the target; on a busy
one it does not. What bounded the answers there was the intake, not CPU: PTB's poller hands the updates of a
batch over one at a time, and each was recorded with its flood budgets before the next (`DurableUpdateQueue.put`,
one round trip each, queued behind the handlers' writes for the writer lock), so every rider's next answer waited
in that line. Timed at load ~8 (`Gate.arrived`): 20 ms per update on PostgreSQL against 11-19 ms on SQLite, and
the recordings alone added up to nearly the whole run on both; taking the writer lock off single-statement writes
changed nothing measurable (the round trips stay in line). Now a getUpdates answer is recorded as one batch, still
before Telegram is told (handlers/telegram/guard.py `IntakeBot`, bot/services/guard.py
`InboundLedger.admit_many`): on SQLite the in-memory budgets, then one multi-row INSERT; on PostgreSQL the flood
statement run once per update, pipelined in one round trip (asyncpg's `fetchmany`: one implicit transaction, each
run seeing the budgets the runs before it left, so the verdicts are those of one call per update in update order).
The riders' ~8 updates per getUpdates cost one call instead of ~8: 6.0 → 5.2 calls per answer on both backends.
Four interleaved before/after pairs of `--only single` at 22:23-22:27 UTC (load 3-5), medians before → after:
SQLite 113 → 127 answers/s, PostgreSQL 84 → 108 (runs 78/112/89/77 → 116/110/106/70), the ratio 0.85× → 0.83×
(runs 1.29/0.93/0.77/0.70 → 0.92/0.87/0.79/0.62): both backends gained, so the ratio moved little. The poller
still waits through most of a run — timed per batch in one run at 22:28 UTC, 36 ms on SQLite, 96 ms on PostgreSQL,
50 ms without the flush, nearly all of it for the writer lock behind the handlers' writes: the intake now paces
itself against the handling, as the writer lock intends, and what bounds the answers is each answer's two
committing writes in that line (the rider's last location, the update marked done), each a round trip and on
PostgreSQL a WAL flush.

What is left, and why: the round trips themselves (the floor above, times the calls); the WAL flush per commit
(the submit's one COMMIT; the sync and no-sync rows differ by it); and an answer's committing writes — the
rider's last location, marking the update done, and its share of its batch's recording — which on PostgreSQL
each wait for their flush while holding the process's writer lock (kept on purpose: it paces how fast updates
are taken in against how fast they are handled, docs/SCALING.md). The shared flood budgets are one statement run
per update (bot/store/flood.py; pipelined per getUpdates batch), the costliest an answer makes in PostgreSQL
(0.20 ms of server-side execution against 0.02 ms for a bare call, docs/SCALING.md); they are what keeps the
budgets shared across processes, so they stay. In webhook mode every update also takes and releases its chat's lock
(bot/store/chatlocks.py: two more round trips on the process's one chat-lock connection), which these one-process
figures do not include.
"""


def multi_analysis(r: ScaleResults) -> str:
    m = r.multi
    if m is None or not m.runs:
        return ""
    one, two, four = m.find("postgresql", 1), m.find("postgresql", 2), m.find("postgresql", 4)
    base = m.find("sqlite", 1)
    lines = ["**Many processes.** CPU seconds over the measured phases (answers, then reports), per component:", ""]
    lines += [_cpu_table(m), ""]
    if one and two and one.answers_per_s and one.reports_per_s:
        a2, r2 = two.answers_per_s / one.answers_per_s, two.reports_per_s / one.reports_per_s
        text = (
            f"This run: 2 processes answer {a2:.2f}× and file {r2:.2f}× what one PostgreSQL process does (target"
            " ≥ 1.6×)"
        )
        if four and four.answers_per_s:
            text += (
                f"; 4 processes {four.answers_per_s / one.answers_per_s:.2f}× and"
                f" {four.reports_per_s / one.reports_per_s:.2f}×"
            )
        lines.append(text + ".")
        lines.append("")

    def cost(x: ClusterRun) -> float:
        """CPU seconds per step (an answer, or one of a report's 8 steps), every component of the deployment."""
        return sum(x.cpu.values()) / max(1, x.answers + 8 * x.reports)

    def share(x: ClusterRun) -> float:
        return sum(x.cpu.values()) / (2 * x.measured_s) if x.measured_s else float("nan")

    if base and one and base.answers_per_s and base.reports_per_s and cost(one):
        steps_b, steps_1 = max(1, base.answers + 8 * base.reports), max(1, one.answers + 8 * one.reports)
        bot_b, bot_1 = base.cpu.get("bots", 0) / steps_b * 1e3, one.cpu.get("bots", 0) / steps_1 * 1e3
        pg_1 = one.cpu.get("postgresql", 0) / steps_1 * 1e3
        ratio_a = one.answers_per_s / base.answers_per_s
        lines.append(
            f"One process behind nginx, PostgreSQL against SQLite: answers {ratio_a:.2f}×,"
            f" reports {one.reports_per_s / base.reports_per_s:.2f}× (target ≥ 0.7×). Per step the PostgreSQL bot"
            f" used {bot_1:.1f} ms of CPU and PostgreSQL {pg_1:.1f} ms, against {bot_b:.1f} ms for the SQLite bot"
            " (its SQLite work included: aiosqlite's thread is in the process); with the fake Telegram, its riders"
            f" and nginx, the whole deployment needed {cost(one) * 1e3:.1f} ms per step on PostgreSQL against"
            f" {cost(base) * 1e3:.1f} ms on SQLite. Both runs kept the two cores busy ({share(base):.0%} and"
            f" {share(one):.0%}, the share column), and a run that is bounded by CPU goes as the inverse of its CPU"
            f" per step: {cost(base) / cost(one):.2f}× here, what the answers measured. This is the webhook path,"
            " which section A's polling process does not take: besides the database calls section A counts, every"
            " update on PostgreSQL takes its chat's lock and lets go of it (bot/store/chatlocks.py, two round trips"
            " on the lock connection), which orders a chat's updates across processes, and each round trip is"
            " work for another process, a PostgreSQL backend."
        )
        lines.append("")
    if one and one.measured_s and cost(one):
        steps = max(1, one.answers + 8 * one.reports)
        achieved = steps / one.measured_s
        ceiling = 2 / cost(one)
        most = ceiling / achieved
        bot_ms = one.cpu.get("bots", 0) / steps * 1e3
        pg_ms = one.cpu.get("postgresql", 0) / steps * 1e3
        per_pg_core = 1000 / pg_ms if pg_ms else float("nan")
        verdict = (
            " — below the 1.6× target, which therefore cannot be met on this machine"
            if most < 1.6
            else ", so the target is within the machine's reach"
        )
        lines.append(
            "Why a second process gives so little here: on this one 2-core machine the whole deployment — the bots,"
            " nginx, PostgreSQL, and the fake Telegram with its riders (in production those two are Telegram's and"
            f" the riders' phones) — shares two cores, and it needed {cost(one) * 1e3:.1f} ms of CPU per step, so"
            f" the machine cannot do more than ~{ceiling:,.0f} steps/s however many bot processes run. One"
            f" PostgreSQL process already did {achieved:,.0f} steps/s with {share(one):.0%} of both cores busy: a"
            f" second one could add at most {most:.2f}× here{verdict}. (On a machine shared with other work the"
            " deployment gets less: the kernel schedules by session, `sched_autogroup_enabled` = 1, and the"
            " deployment under test, PostgreSQL included — started in the benchmark's session on purpose,"
            " `bench/pgserver.py` — is one session against every other.) What a second process buys where it has a"
            f" core of its own: one process's Python uses at most one core — {bot_ms:.1f} ms of bot CPU per step"
            f" caps it near {1000 / bot_ms if bot_ms else float('nan'):,.0f} steps/s — and on separate hosts"
            f" (docs/SCALING.md) only PostgreSQL is shared, at {pg_ms:.1f} ms per step: ~{per_pg_core:,.0f} steps/s"
            " per PostgreSQL core before the database rather than the bots is the limit, about"
            f" {bot_ms / pg_ms if pg_ms else float('nan'):.1f} bot processes per PostgreSQL core."
        )
        lines.append("")
    return "\n".join(lines)


def leading_analysis(r: ScaleResults) -> str:
    parts = []
    if r.rate is not None:
        parts.append(
            f"**One dispatcher.** With two processes only the leader sends queued messages: the backlog drained at"
            f" {r.rate.per_s:.1f} messages/s, never more than {r.rate.max_in_any_second} in one second — the"
            " dispatcher paces itself at 25/s (`OutboxDispatcher.global_rate`), under Telegram's ~30/s per bot"
            " token, and PTB's rate limiter in the same process is the second guard. Adding processes adds no send"
            " capacity: this figure is the whole bot's, so notices to workers are bounded by ~25/s (≈ 12 reports/s"
            " at two messages each) however many processes run (section 4). Replies a process gives to the person"
            " who wrote (answers, receipts) leave from that process and count against the same token."
        )
    if r.failover is not None and r.failover.kills:
        parts.append(
            f"**Fail-over.** kill -9 closes the leader's lock connection at once, so PostgreSQL frees the advisory"
            f" lock immediately; a standby tries it every second (`leadership.RETRY`) and on winning recovers what"
            f" the old leader left 'sending' and drains. Measured: p95 {r.failover.p95:.2f} s from the kill to the"
            " next delivery, over repeated kills (the killed process restarted before the next). A leader whose"
            " host vanishes without closing the socket is noticed by the server's keepalives in about 6 s"
            " (`leadership.KEEPALIVES`), so that case takes ~6-8 s — inside the 10 s target, not measured here."
        )
    return "\n\n".join(parts) + ("\n" if parts else "")


def block(r: ScaleResults) -> str:
    lb = ", ".join(f"{x:.1f}" for x in r.load_before)
    la = ", ".join(f"{x:.1f}" for x in r.load_after)
    title = "Full run (`python -m bench.scaleout`)" if r.plan.mode == "full" else f"{r.plan.mode.title()} run"
    parts = [
        BEGIN,
        f"### {title}, {r.started_utc}",
        "",
        f"Measured {r.started_utc} on this 2-core machine, shared with other work: load average"
        f" {lb} (1, 5, 15 min) before the run and {la} after; {r.elapsed_s:.0f} s in total.",
        "",
        table(bare_figure(r.single) + single_figures(r.single) + multi_figures(r.multi) + leading_figures(r)),
        "",
        analysis(r),
        multi_analysis(r),
        leading_analysis(r),
        *log_details(r.log),
        END,
    ]
    return "\n".join(parts)


def current(path: Path) -> str:
    """The section as it stands in the file (or the not-run note), for `python -m bench` to keep."""
    if not path.exists():
        return NOT_RUN
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return NOT_RUN
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def write(r: ScaleResults, path: Path) -> None:
    """Replace the section between the markers (or append the section when the file has none)."""
    new = block(r)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    if HEADING in text and BEGIN in text and END in text:  # the section's prose too: it is this module's
        head = text[: text.index(HEADING)]
        text = f"{head}{HEADING}\n\n{INTRO}\n{new}" + text[text.index(END) + len(END) :]
    elif BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + new + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{INTRO}\n{new}\n"
    path.write_text(text, encoding="utf-8")
