"""A scale-out deployment on this machine, for the scale-out tests and the benchmarks: one database, N bot
processes in webhook mode behind nginx, and a fake Telegram (the Bot API stand-in) that posts updates to nginx.

    cluster = Cluster(root, database="postgresql://…/db", workers=3)
    await cluster.start(prepare=bind_people)     # migrate + seed in this process, then nginx and the bots
    cluster.telegram.inject_message(1001, text="/start")     # the stand-in delivers it through nginx
    await cluster.kill(0)                        # SIGKILL one bot process
    await cluster.restart(0)                     # as systemd's Restart=always would
    index = await cluster.leader()               # which process dispatches the outbox (None: nobody yet)
    await cluster.stop()

Everything real: the bots are `rider-bot run` child processes configured like a deployment (environment and a
TOML file, docs/SCALING.md); nginx is Debian's, in the foreground with a config of its own in `root`; the
database is PostgreSQL (a URL: the tests' `pg_url`, the benchmarks' bench/pgserver.py) or, for one process only, a
SQLite file. Children get SIGKILL when the process that started them dies (PR_SET_PDEATHSIG): start a cluster from
the thread that outlives it (the event loop's).

The stand-in runs in the caller's event loop, so it survives every kill and records every Bot API call
(`telegram.calls`) and every delivery attempt (`telegram.webhook_deliveries`). `telegram.webhook_parallel`
deliveries are in flight at once (Telegram's max_connections), one per chat as the Bot API server does; a worker
answers 200 once an update is recorded, so a chat's next update reaches another process while the first may still
be handled there; a non-2xx answer is retried with a back-off, a bounded number of times.

Pacing knobs for tests (`settings=`): the outbox's per-chat spacing (Telegram's ~1 message/s per chat) and the
inbound flood budgets; by default they are relaxed so that a few hundred scripted riders are not "flooding".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.services.container import Services, open_services
from bot.standin.server import StandIn
from tests.childproc import ChildProcess, set_parent_death_signal
from tests.ports import free_port

REPO = Path(__file__).resolve().parent.parent
TOKEN = "777000111:SCALE-out-test-token-0123456789abcd"
WEBHOOK_PATH = "/telegram"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RUNNING = "rider-bot is running"  # what `rider-bot run` prints once its webhook is set
# Relaxed for scripted riders (a person does not send 20 messages in a second); every other setting is a default.
TEST_SETTINGS: dict[str, Any] = {
    "outbox_per_chat_interval": 0.05,
    "flood_burst": 1000,
    "flood_per_second": 1000.0,
    "reports_per_hour": 1000,
}


async def _wait_port(port: int, timeout: float, proc: asyncio.subprocess.Process | None = None) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if proc is not None and proc.returncode is not None:
                raise RuntimeError(f"exited with {proc.returncode} before listening on {port}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:g}s") from None
            await asyncio.sleep(0.05)


def nginx_config(root: Path, port: int, upstreams: list[int], path: str = WEBHOOK_PATH) -> str:
    """A foreground nginx in `root`: the proxy settings of a deployment (next upstream on error/timeout/502, a
    1 MB body cap, keep-alive to the workers) over plain HTTP on 127.0.0.1, pid, logs and temp files in `root`."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams)
    user = "user root;\n" if os.geteuid() == 0 else ""  # root's workers would otherwise switch to nobody/www-data
    temp = "\n".join(
        f"    {kind}_temp_path {root}/{kind}_temp;" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
{temp}
    upstream rider_bot {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 1m;
        location = {path} {{
            proxy_pass http://rider_bot;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 15s;
        }}
        location / {{ return 404; }}
    }}
}}
"""


class Nginx:
    """Debian's nginx in the foreground (`daemon off`), in a directory of its own."""

    def __init__(self, root: Path, upstreams: list[int], port: int | None = None) -> None:
        self.root = root
        self.upstreams = upstreams
        self.port = port or free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(nginx_config(self.root, self.port, self.upstreams), encoding="utf-8")
        log = (self.root / "stderr.log").open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                NGINX, "-p", str(self.root), "-e", str(self.root / "error.log"), "-c", str(conf),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=set_parent_death_signal,
            )  # fmt: skip
        finally:
            log.close()
        try:
            await _wait_port(self.port, 15, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"nginx did not start: {exc}\n{self.log_tail()}") from None

    def log_tail(self) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            with contextlib.suppress(OSError):
                text += (self.root / name).read_text("utf-8", "replace")[-2000:]
        return text

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Worker(ChildProcess):
    """One `rider-bot run` process: its webhook port (nginx's upstream) and HTTP doors port (/metrics)."""

    def __init__(self, index: int, webhook_port: int, http_port: int, log_path: Path) -> None:
        super().__init__(log_path, ready=RUNNING, label=f"worker {index}")
        self.index = index
        self.webhook_port = webhook_port
        self.http_port = http_port
        self.kills: list[float] = []  # time.time() of each SIGKILL


class Cluster:
    """See the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        database: str | Path,
        workers: int = 3,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        parallel: int = 8,
    ) -> None:
        self.root = Path(root)
        self.database = database
        self.is_postgres = isinstance(database, str) and database.startswith(("postgresql://", "postgres://"))
        if not self.is_postgres and workers != 1:
            raise ValueError("SQLite is one process: several workers need a PostgreSQL database")
        self.settings = {**TEST_SETTINGS, **(settings or {})}
        self.extra_env = dict(env or {})
        self.secret = secrets.token_urlsafe(24)  # one webhook secret for every process (nginx picks any of them)
        self.telegram = StandIn(token=TOKEN)
        self.telegram.webhook_parallel = parallel
        self.telegram.webhook_backoff = (0.1, 1.0)
        self.telegram.webhook_max_attempts = 30  # bounded, but patient enough to ride out a kill
        self.workers = [Worker(i, free_port(), free_port(), self.root / f"worker{i}.log") for i in range(workers)]
        self.nginx = Nginx(self.root / "nginx", [w.webhook_port for w in self.workers])

    # ------------------------------------------------------------------ settings

    def bot_settings(self, **overrides: Any) -> Settings:
        """The bots' settings as a `Settings`, for preparing the database in this process."""
        values: dict[str, Any] = {"demo_people": False, "http_port": None, **self.settings, **overrides}
        if self.is_postgres:
            values["database_url"] = str(self.database)
        else:
            values["db_path"] = Path(self.database)
        return Settings(**values)

    def _env(self, worker: Worker) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
        env.update(
            {
                "RIDER_CONFIG": str(self.root / "rider-bot.toml"),
                "TELEGRAM_TOKEN": TOKEN,
                "TELEGRAM_BASE_URL": self.telegram.base_url,
                "TELEGRAM_BASE_FILE_URL": self.telegram.base_file_url,
                "RIDER_MODE": "webhook",
                "RIDER_WEBHOOK_URL": self.nginx.url + WEBHOOK_PATH,
                "RIDER_WEBHOOK_LISTEN": "127.0.0.1",
                "RIDER_WEBHOOK_PORT": str(worker.webhook_port),
                "RIDER_WEBHOOK_SECRET": self.secret,
                "RIDER_HTTP_PORT": str(worker.http_port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.is_postgres:
            env["RIDER_DATABASE_URL"] = str(self.database)
        else:
            env["RIDER_DB_PATH"] = str(self.database)
        env.update(self.extra_env)
        return env

    def _write_config(self) -> None:
        lines = []
        for key, value in self.settings.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int | float):
                lines.append(f"{key} = {value}")
            else:
                lines.append(f'{key} = "{value}"')
        (self.root / "rider-bot.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # ------------------------------------------------------------------ lifecycle

    async def start(self, prepare: Callable[[Services], Awaitable[None]] | None = None) -> None:
        """Migrate and seed the database here (and run `prepare` on its services), then the fake Telegram, nginx
        and every worker; returns when each worker says it is running (its webhook is set)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_config()
        services = await open_services(self.bot_settings())
        try:
            if prepare is not None:
                await prepare(services)
        finally:
            await services.close()
        await self.telegram.start()
        await self.nginx.start()
        try:
            await asyncio.gather(*(self.start_worker(w.index) for w in self.workers))
        except BaseException:
            await self.stop()
            raise

    def _command(self) -> list[str]:
        entry = Path(sys.executable).with_name("rider-bot")
        return (
            [str(entry), "run"] if entry.exists() else [sys.executable, "-c", "from bot.cli import main; main()", "run"]
        )

    async def start_worker(self, index: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Returns once the worker says it is running; RuntimeError (with its log's tail) if it does not."""
        worker = self.workers[index]
        if worker.alive:
            return
        await worker.spawn(
            *self._command(), cwd=self.root, env=self._env(worker), die_with_parent=True, timeout=timeout
        )

    async def kill(self, index: int) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or an OOM kill."""
        worker = self.workers[index]
        worker.kills.append(await worker.kill())

    async def restart(self, index: int) -> None:
        await self.start_worker(index)

    async def stop_worker(self, index: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        await self.workers[index].stop(timeout)

    async def stop(self) -> None:
        await asyncio.gather(*(self.stop_worker(w.index) for w in self.workers), return_exceptions=True)
        await self.nginx.stop()
        await self.telegram.stop()

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ talking to one process

    async def post_to(self, index: int, user_id: int, **message: Any) -> int:
        """A user's message delivered to one worker directly (not through nginx), with the shared secret: the way
        to ask a given process. Returns the update id; the answer lands in the fake Telegram's chat as usual."""
        self.telegram.inject_message(user_id, first_name="骑手", **message)
        update = self.telegram._updates.pop()  # taken back before the delivery task (same loop) can send it
        url = f"http://127.0.0.1:{self.workers[index].webhook_port}{WEBHOOK_PATH}"
        response = await self.telegram.post_to_webhook(update, url=url, secret_token=self.secret, timeout=15)
        assert response.status_code == 200, f"worker {index} answered {response.status_code}"
        return int(update["update_id"])

    async def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:  # noqa: ASYNC109
        """`rider-bot ARGS` against the cluster's database and configuration (an operator on one of the hosts)."""
        env = self._env(self.workers[0])
        command = self._command()[:-1]  # without "run"
        proc = await asyncio.create_subprocess_exec(
            *command, *args, cwd=self.root, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        assert proc.returncode is not None
        return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())

    # ------------------------------------------------------------------ looking at it

    def dump(self, chats: list[int] = ()) -> Path:  # type: ignore[assignment]
        """After a failure: the fake Telegram's view (every delivery attempt, every Bot API call without its
        payload, the transcripts of `chats`) as root/telegram.json, beside the workers' and nginx's logs."""
        calls = [
            {k: c.get(k) for k in ("method", "ts", "ok", "error")}
            | {"chat_id": c.get("params", {}).get("chat_id"), "text": str(c.get("params", {}).get("text", ""))[:40]}
            for c in self.telegram.calls
        ]
        transcripts = {}
        for chat in chats:
            transcripts[str(chat)] = [
                {k: m.get(k) for k in ("message_id", "_from_bot", "text", "caption", "location")}
                for m in self.telegram.transcript(chat)
            ]
        path = self.root / "telegram.json"
        data = {"deliveries": self.telegram.webhook_deliveries, "calls": calls, "transcripts": transcripts}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        return path

    def alive(self) -> list[int]:
        return [w.index for w in self.workers if w.alive]

    async def metrics(self, index: int) -> str | None:
        """The worker's /metrics text, or None when it does not answer."""
        worker = self.workers[index]
        if not worker.alive:
            return None
        try:
            async with httpx.AsyncClient(timeout=3, trust_env=False) as client:
                response = await client.get(f"http://127.0.0.1:{worker.http_port}/metrics")
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    async def leader(self) -> int | None:
        """The worker whose /metrics says it holds the leadership (outbox dispatcher + scheduler), if exactly one."""
        found = []
        for index in self.alive():
            text = await self.metrics(index)
            if text is not None and LEADER_GAUGE.search(text):
                found.append(index)
        return found[0] if len(found) == 1 else None

    async def wait_leader(self, timeout: float = 30.0, *, other_than: int | None = None) -> tuple[int, float]:  # noqa: ASYNC109
        """Poll (every 0.1 s, bounded) until one worker (not `other_than`) leads; returns (index, time.time())."""
        deadline = time.monotonic() + timeout
        while True:
            index = await self.leader()
            if index is not None and index != other_than:
                return index, time.time()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no leader among workers {self.alive()} after {timeout:g}s")
            await asyncio.sleep(0.1)


# The leader's gauge on /metrics (bot/metrics.py): 1 in the process that dispatches the outbox and runs the jobs.
LEADER_GAUGE = re.compile(r"^rider_[a-z_]*leader[a-z_]*(\{[^}]*\})? 1(\.0)?$", re.M)
