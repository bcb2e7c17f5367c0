"""The test's side of a bot in a child process: spawn it with its stderr appended to a log file, wait until it
says on stdout that it is up, SIGKILL it (a crash) or stop it with SIGTERM (SIGKILL if that does not end it),
and read its log for the failure message. One place for tests/test_crash.py, tests/test_leadership.py,
tests/test_webhook_workers.py, tests/test_clean_stop.py (their children: tests/childbot.py) and the scale-out
cluster's `rider-bot run` workers (tests/cluster.py), so that a start that fails says why in the same way everywhere
and no child outlives its test.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
READY = "READY"  # what a tests/childbot.py child prints once its Runtime has started
_PR_SET_PDEATHSIG = 1


def set_parent_death_signal() -> None:
    """In the child between fork and exec: SIGKILL when the parent dies, so no bot or nginx outlives a test."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ChildProcess:
    """One child process at a time (started again after a kill), its stderr appended to `log_path`. `ready`
    matches the stdout line that says it is up; `label` names it in failures."""

    def __init__(self, log_path: Path, *, ready: str = READY, label: str = "the bot") -> None:
        self.log_path = log_path
        self.ready = re.compile(ready.encode())
        self.label = label
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at = 0.0  # time.time() just before the latest spawn
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.label} was never started"
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def spawn(
        self,
        *command: str,
        cwd: Path = REPO,
        env: dict[str, str] | None = None,
        die_with_parent: bool = False,
        timeout: float = 60.0,  # noqa: ASYNC109
    ) -> None:
        """Start `command` and return once it printed its ready line; RuntimeError (with the log's tail) if it
        exits first or says nothing of the kind within `timeout` seconds. `die_with_parent` for a child that
        cannot watch for the test process going away itself (tests/childbot.py's children do)."""
        self.started_at = time.time()
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=log,
                preexec_fn=set_parent_death_signal if die_with_parent else None,
            )  # fmt: skip
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                raise RuntimeError(f"{self.label} did not start in {timeout:g}s:\n{self.log_tail()}") from None
            if not line:
                await self.proc.wait()
                raise RuntimeError(f"{self.label} exited ({self.proc.returncode}) while starting:\n{self.log_tail()}")
            if self.ready.search(line):
                break
        # Read stdout from now on, so a chatty child never blocks on a full pipe.
        self._drain = asyncio.get_running_loop().create_task(self._read_to_end(self.proc.stdout))

    @staticmethod
    async def _read_to_end(stdout: asyncio.StreamReader) -> None:
        while await stdout.read(65536):
            pass

    async def kill(self) -> float:
        """SIGKILL, no clean-up of any kind (a crash, an OOM kill). Returns the time.time() of the signal. Only a
        running child can be killed: one that already died by itself fails the test here."""
        assert self.alive, f"{self.label} is not running:\n{self.log_tail()}"
        assert self.proc is not None
        at = time.time()
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        return at

    async def stop(self, timeout: float = 15.0) -> int | None:  # noqa: ASYNC109
        """SIGTERM (a clean stop), SIGKILL if it is still running after `timeout` seconds. Returns the exit code
        (None: never started)."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.send_signal(signal.SIGKILL)
                await self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        return ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


class BotChild(ChildProcess):
    """`python -m MODULE DIRECTORY/NAME.json`: a tests/childbot.py child (tests/crashbot.py, tests/leaderbot.py,
    tests/webhookworker.py) with its config written to NAME.json and its log in NAME.log beside it."""

    def __init__(
        self, module: str, config: dict[str, Any], directory: Path, name: str, *, label: str = "the bot"
    ) -> None:
        super().__init__(directory / f"{name}.log", label=label)
        self.module = module
        self.config_path = directory / f"{name}.json"
        self.config_path.write_text(json.dumps(config), encoding="utf-8")

    async def start(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        await self.spawn(sys.executable, "-m", self.module, str(self.config_path), timeout=timeout)
