"""The bot in a child process, for tests/test_photo_memory.py: `python -m tests.photobot TMPDIR N`.

Starts the real `Runtime` offline (PTB polling the Bot API stand-in over HTTP, SQLite in TMPDIR), then N riders
each send the same legal but huge PNG (7300 × 5460, a few hundred KB on the wire) as a file, all at once, and
prints one JSON line: the resident memory before, the peak while the photos were handled (kB, from
/proc/self/status), and the first answer each rider got. A child process, so the peak is this bot's alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import sys
from pathlib import Path

from PIL import Image

from bot.app import Runtime
from bot.config import Settings


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    """Start the peak afresh (Linux ≥ 4.0); otherwise it may include start-up, which only overstates growth."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _big_png() -> bytes:
    image = Image.new("RGB", (7300, 5460), (200, 120, 40))
    image.paste((30, 60, 200), (0, 0, 3650, 2730))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    image.close()
    return buffer.getvalue()


async def main(tmp: Path, riders: int) -> None:
    settings = Settings(db_path=tmp / "rider.sqlite3", demo_port=0, http_port=None, demo_people=False)
    runtime = Runtime(settings)
    await runtime.start(poll_timeout=1)
    try:
        standin = runtime.standin
        assert standin is not None
        data = _big_png()
        gc.collect()
        await asyncio.sleep(0.5)
        _reset_peak()
        before = _status("VmRSS")
        users = [70_001 + i for i in range(riders)]
        marks = {u: standin.last_seq(u) for u in users}
        for user in users:
            standin.inject_message(user, document=(data, "hazard.png", "image/png"), first_name="骑手")
        answers = []
        for user in users:
            [first, *_] = await standin.wait_for_bot_messages(user, 1, after_seq=marks[user], timeout=300)
            answers.append(first.get("text", ""))
        peak = _status("VmHWM")
        print(json.dumps({"before_kb": before, "peak_kb": peak, "png_bytes": len(data), "answers": answers}))
    finally:
        await runtime.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
