"""A uvicorn server inside our event loop, for the HTTP doors (WeChat callback, Open311) and the stand-ins.

In-process on purpose: the doors call the same core services as the Telegram handlers, in the same loop, so
there is one database writer and one outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    """uvicorn.Server whose stop takes effect at once: uvicorn looks at `should_exit` every 0.1 s, and a bot stops
    its web servers one after another (every test starts and stops one)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()

    def request_exit(self) -> None:
        self.should_exit = True
        self._wake.set()

    async def main_loop(self) -> None:
        # uvicorn's own loop with its 0.1 s sleep made interruptible; on_tick keeps the Date header and the exit check
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)


class WebServer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.host = "127.0.0.1"
        self.port = 0
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets (no 40 ms delayed-ACK stalls).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.host, self.port = sock.getsockname()[:2]
        config = uvicorn.Config(
            self.app, lifespan="off", log_config=None, log_level="warning", access_log=False, ws="none"
        )
        self._server = _Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=f"web-{self.port}")
        for _ in range(1000):  # bounded: 10 s
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
                raise RuntimeError("web server exited during startup")
            await asyncio.sleep(0.01)
        raise TimeoutError("web server did not start within 10 s")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.request_exit()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 5)
        self._server = self._task = None
