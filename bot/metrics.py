"""What an operator graphs and alerts on, as Prometheus collectors (served at GET /metrics, docs/OPERATIONS.md).

Core code and doors call one function here per event (one line at the call site), so instrumentation never
grows into the logic it measures. Counts of things that live in the database (outbox rows, reports by state,
overdue reports) are not counted as they change: `refresh()` reads them when Prometheus scrapes, so they are
right after a restart and cannot drift.

One registry per process (ours, not the library's global default), so the exposition holds our metrics and
the process's own (memory, CPU, open files) and nothing an imported library happens to register.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.store import outbox as outbox_store
from bot.store import reports as report_store
from bot.store.db import Database

__all__ = ["CONTENT_TYPE_LATEST", "REGISTRY", "exposition", "refresh"]

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

# Handler latencies are milliseconds to a few seconds (a photo download, a geocoder call).
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Delivery latency includes pacing (about one message a second per chat) and back-off after 429s.
_SLOW = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

UPDATES = Counter(
    "rider_updates", "Inbound updates handled, by channel, kind and outcome.", ["channel", "kind", "outcome"],
    registry=REGISTRY,
)  # fmt: skip
HANDLER_SECONDS = Histogram(
    "rider_handler_seconds", "Time spent handling one update, by the handler that answered it.", ["handler"],
    buckets=_FAST, registry=REGISTRY,
)  # fmt: skip
OUTBOX_ROWS = Gauge("rider_outbox_rows", "Outbox rows by status (read at scrape time).", ["status"], registry=REGISTRY)
OUTBOX_OLDEST_DUE = Gauge(
    "rider_outbox_oldest_due_age_seconds",
    "How long the oldest due pending outbox row has waited (0 when nothing is due): the outbox lag.",
    registry=REGISTRY,
)
OUTBOX_SENT = Counter("rider_outbox_sent", "Outbox messages delivered.", ["channel"], registry=REGISTRY)
OUTBOX_RETRIES = Counter(
    "rider_outbox_retries", "Outbox sends that failed and will be retried, by reason.", ["channel", "reason"],
    registry=REGISTRY,
)  # fmt: skip
OUTBOX_DEAD = Counter("rider_outbox_dead", "Outbox messages given up (dead letters).", ["channel"], registry=REGISTRY)
DELIVERY_SECONDS = Histogram(
    "rider_outbox_delivery_seconds", "From a message being due to its delivery.", ["channel"], buckets=_SLOW,
    registry=REGISTRY,
)  # fmt: skip
RATE_LIMITED = Counter(
    "rider_bot_api_429", "Bot API answers '429 Too Many Requests' (each retry counts again).", registry=REGISTRY
)
BOT_API_CALLS = Counter(
    "rider_bot_api_calls", "Bot API calls by result (ok, error, network).", ["result"], registry=REGISTRY
)
BOT_API_LAST_OK = Gauge(
    "rider_bot_api_last_success_timestamp_seconds", "Unix time of the last Bot API call that got an answer.",
    registry=REGISTRY,
)  # fmt: skip
REPORTS = Gauge("rider_reports", "Reports by state (read at scrape time).", ["status"], registry=REGISTRY)
OVERDUE = Gauge(
    "rider_reports_overdue", "Open reports past their accept or resolve deadline (read at scrape time).", ["phase"],
    registry=REGISTRY,
)  # fmt: skip
BREACHES = Counter(
    "rider_deadline_breaches", "Deadlines passed without the report being accepted/resolved.", ["phase"],
    registry=REGISTRY,
)  # fmt: skip
ESCALATIONS = Counter(
    "rider_escalations", "Escalations up the chain, by phase and level.", ["phase", "level"], registry=REGISTRY
)
FLOOD = Counter(
    "rider_flood_drops", "Messages refused by the flood guard ('warn': told to slow down, 'drop': ignored).",
    ["channel", "verdict"], registry=REGISTRY,
)  # fmt: skip
STORAGE_ERRORS = Counter(
    "rider_storage_errors", "Writes that failed for storage reasons (disk full, read-only, I/O, locked).",
    ["channel"], registry=REGISTRY,
)  # fmt: skip
LEADER = Gauge(
    "rider_leader", "1 while this process is the leader (dispatches the outbox, runs the scheduled jobs), else 0.",
    registry=REGISTRY,
)  # fmt: skip
HTTP_REQUESTS = Counter(
    "rider_http_requests", "Requests to the HTTP doors by door and status code.", ["door", "code"], registry=REGISTRY
)

_last_bot_api_ok: float | None = None  # monotonic, for /readyz (the gauge above is wall time, for humans)


# ---------------------------------------------------------------------------------------------- events


def update_handled(channel: str, kind: str, outcome: str, handler: str, seconds: float) -> None:
    UPDATES.labels(channel, kind, outcome).inc()
    HANDLER_SECONDS.labels(handler).observe(seconds)


def update_refused(channel: str, kind: str, outcome: str) -> None:
    """Dropped before any handler ran (a redelivery, a flood): counted, no latency to observe."""
    UPDATES.labels(channel, kind, outcome).inc()


def bot_api_answered(status: int) -> None:
    """Any HTTP answer from the Bot API proves it reachable and our token accepted (401/404 would not)."""
    global _last_bot_api_ok
    if status == 429:
        RATE_LIMITED.inc()
    if status in (401, 404) or status >= 500:
        BOT_API_CALLS.labels("error").inc()
        return
    BOT_API_CALLS.labels("ok").inc()
    _last_bot_api_ok = time.monotonic()
    BOT_API_LAST_OK.set(time.time())


def bot_api_unreachable() -> None:
    BOT_API_CALLS.labels("network").inc()


def seconds_since_bot_api_ok() -> float | None:
    return None if _last_bot_api_ok is None else time.monotonic() - _last_bot_api_ok


def outbox_settled(channel: str, outcome: str, *, due_for: float = 0.0, rate_limited: bool = False) -> None:
    """outcome: 'sent' (due_for: seconds since it was due), 'retry' or 'dead'."""
    if outcome == "sent":
        OUTBOX_SENT.labels(channel).inc()
        DELIVERY_SECONDS.labels(channel).observe(max(0.0, due_for))
    elif outcome == "retry":
        OUTBOX_RETRIES.labels(channel, "rate_limited" if rate_limited else "error").inc()
    else:
        OUTBOX_DEAD.labels(channel).inc()


def deadline_breached(phase: str) -> None:
    BREACHES.labels(phase).inc()


def escalated(phase: str, level: int) -> None:
    ESCALATIONS.labels(phase, str(level)).inc()


def flood_refused(who: str, verdict: str) -> None:
    FLOOD.labels(who.split(":", 1)[0], verdict).inc()


def storage_error(channel: str) -> None:
    STORAGE_ERRORS.labels(channel).inc()


def leadership_changed(leading: bool) -> None:
    LEADER.set(1 if leading else 0)


def http_answered(path: str, code: int) -> None:
    door = path.strip("/").split("/", 1)[0] or "root"
    if door not in {"wechat", "open311"}:
        door = "other"  # bounded labels: a scanner's random paths must not grow the series
    HTTP_REQUESTS.labels(door, str(code)).inc()


# ---------------------------------------------------------------------------------------------- scrape time


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def refresh(db: Database, report_now: datetime) -> None:
    """The database-backed gauges, read in four queries (cheap: indexed columns, a scrape every 15 s or so).

    The outbox stamps wall-clock UTC; deadlines follow the services' clock (`report_now`), as the watcher does."""
    now = datetime.now(UTC)
    counts = await outbox_store.status_counts(db)
    for status in ("pending", "sending", "sent", "dead"):
        OUTBOX_ROWS.labels(status).set(counts.get(status, 0))
    oldest, _ = await outbox_store.due(db, _stamp(now))
    age = (now - datetime.fromisoformat(oldest.replace("Z", "+00:00"))).total_seconds() if oldest else 0.0
    OUTBOX_OLDEST_DUE.set(max(0.0, age))
    REPORTS.clear()
    for status, n in (await report_store.status_counts(db)).items():
        REPORTS.labels(status).set(n)
    late_accept, late_resolve = await report_store.overdue_counts(db, report_now.isoformat())
    OVERDUE.labels("accept").set(late_accept)
    OVERDUE.labels("resolve").set(late_resolve)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
