"""On PYTHONPATH only for the bot processes `python -m bench.scaleout` starts (bench/multi.py): with
BENCH_UNTHROTTLED=1, PTB's rate limiter runs with Telegram's flood limits switched off — the same limiter code path,
no waiting — as bench/harness.py's `throttle(False)` does for an in-process bot. The capacity figures measure what
N processes can do, not 30 messages/s per process (Telegram's limits are per bot token: docs/SCALING.md)."""

import os

if os.environ.get("BENCH_UNTHROTTLED") == "1":
    import bot.app
    from bench.harness import unthrottled_limiter

    bot.app.AIORateLimiter = unthrottled_limiter  # type: ignore[misc,assignment]
