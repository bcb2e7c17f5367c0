"""`rider-bot …` run for real as a subprocess, against a database a test (and perhaps a running bot) also uses."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


async def cli(db_path: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:  # noqa: ASYNC109
    """(exit code, stdout, stderr). The test's own RIDER_*/TELEGRAM_* settings stay out: the database is named
    only by RIDER_DB_PATH (the PostgreSQL pass maps that path in the subprocess too, tests/pgsite)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
    env["RIDER_DB_PATH"] = str(db_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()
