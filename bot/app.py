"""The one wiring point: core services + the Telegram door (+ the offline Bot API stand-in when there is no token).

The run command, the tests and the benchmarks all start the bot through `Runtime`, so what is tested is what
runs.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.clock import Clock
from bot.config import Settings
from bot.outbox.dispatcher import Sender
from bot.schedule.jobs import install as install_jobs
from bot.services.catalog_sync import CatalogWatcher
from bot.services.container import Services, open_services
from bot.standin.server import DEMO_TOKEN, StandIn
from bot.store.backup import LiveMarker
from bot.store.polling import PollingGuard, hold_polling
from bot.store.webhook_secrets import shared_secret
from bot.texts import t
from bot.webserver import WebServer
from handlers.telegram import publish_commands, register
from handlers.telegram.guard import DurableUpdateQueue, Gate, IntakeBot
from handlers.telegram.metering import MeteredRequest, MeteredUpdateProcessor, name_handlers
from handlers.telegram.outbox_sender import TelegramSender
from handlers.telegram.webhook import TelegramWebhook
from handlers.web import build_web_app
from handlers.wechat import WeChatChannel

log = logging.getLogger(__name__)


def build_application(services: Services, *, token: str, base_url: str, base_file_url: str | None) -> Application:
    # Recorded on arrival and marked done after the handlers (re-run after a crash); flood-checked, then per chat,
    # then a worker: see handlers/telegram/guard.py and ordering.py. The bot hands each getUpdates answer to the
    # gate, which records it as one batch (one database round trip) before PTB confirms it.
    gate = Gate(services)
    bot = IntakeBot(
        gate,
        token=token,
        base_url=base_url,
        **({"base_file_url": base_file_url} if base_file_url else {}),
        rate_limiter=AIORateLimiter(max_retries=3),
        # Up to 64 updates are handled at once over 16 connections: a handler waits for a free one (pool_timeout)
        # rather than failing after PTB's default 1 s with PoolTimeout — under a burst of slow photo downloads that
        # answered riders "something went wrong" and lost their steps (the long crash run, issue 11).
        request=MeteredRequest(connection_pool_size=16, pool_timeout=30),
        # Two connections for getUpdates: on stop PTB cancels the long poll without waiting for it to let go of
        # its connection and calls getUpdates once more to confirm the offset; with one connection that call could
        # wait for it and fail with PoolTimeout, an ERROR with a traceback on a clean SIGTERM (issue 11, item 11).
        get_updates_request=MeteredRequest(connection_pool_size=2, read_timeout=40),
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .post_init(publish_commands)
        .update_queue(DurableUpdateQueue(gate))
        .concurrent_updates(MeteredUpdateProcessor(gate, 64))
    )
    application = builder.build()
    application.bot_data["services"] = services
    application.bot_data["gate"] = gate
    gate.bind(application)  # on PostgreSQL: a chat's updates in order across every process (chat_order.py)
    register(application)
    name_handlers(application)
    return application


class Runtime:
    """Starts and stops everything in order; `start()` returns once updates are being received."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.services: Services | None = None
        self.application: Application | None = None
        self.standin: StandIn | None = None
        self.web: WebServer | None = None
        self.wechat: WeChatChannel | None = None
        self.live: LiveMarker | None = None
        self.webhook: TelegramWebhook | None = None
        self.polling: PollingGuard | None = None
        self.catalog_watch: CatalogWatcher | None = None

    async def start(self, *, poll_timeout: int = 10) -> None:
        try:
            await self._start(poll_timeout)
        except BaseException:
            await self.stop()  # a half-started runtime must not leave the database or HTTP clients open
            raise

    async def _start(self, poll_timeout: int) -> None:
        if not self.settings.database_url:  # `rider-bot restore` (SQLite) sees a running bot by this
            self.live = LiveMarker(self.settings.db_path).hold()
        self.services = await open_services(self.settings, self.clock)
        # Imports by other processes or the CLI reach this process's catalogue and grids (issue 12).
        self.catalog_watch = self.services.catalog_watcher()
        await self.catalog_watch.start()
        settings = self.settings
        if settings.mode != "webhook" and not settings.offline_demo:
            # One getUpdates consumer per bot token: a second poller on this database refuses to start (AnotherPoller)
            # rather than fight the first over 409 Conflicts; many processes means webhook mode.
            self.polling = await hold_polling(self.services.db)
        if settings.offline_demo:
            if settings.demo_people:
                await seed_demo_people(self.services)
            presets = [
                {"name": p.name, "lat": p.lat, "lon": p.lon, "city": p.city, "kind": p.kind}
                for p in self.services.finder.catalog.places
            ]
            self.standin = StandIn(presets=presets)
            await self.standin.start(settings.demo_host, settings.demo_port)
            token, base_url, base_file_url = DEMO_TOKEN, self.standin.base_url, self.standin.base_file_url
        else:
            assert settings.telegram_token
            token, base_url = settings.telegram_token, settings.telegram_base_url
            base_file_url = settings.telegram_base_file_url
            if base_file_url is None and base_url.rstrip("/").endswith("/bot"):
                base_file_url = base_url.rstrip("/")[: -len("/bot")] + "/file/bot"
        self.application = build_application(self.services, token=token, base_url=base_url, base_file_url=base_file_url)
        await self.application.initialize()
        if self.application.post_init:
            await self.application.post_init(self.application)
        await self.application.start()
        senders: dict[str, Sender] = {"telegram": TelegramSender(self.application.bot, self.services.photos)}
        if settings.wechat_token:  # the 公众号 door (docs/WECHAT.md): its answers and notices leave through the outbox
            self.wechat = WeChatChannel(self.services)
            senders["wechat"] = self.wechat.sender
        await self.services.start_leadership()  # one leader per database dispatches and runs the jobs
        await self.services.start_outbox(senders, per_chat_interval=settings.outbox_per_chat_interval)
        if self.wechat is not None:  # before /wechat is served: what a killed process left unfinished runs again
            await self.wechat.start()
        job_queue = self.application.job_queue
        assert job_queue is not None, "python-telegram-bot[job-queue] is required"
        install_jobs(
            job_queue.scheduler, self.services.deadlines, settings.tz, digest_at=settings.digest_at,
            leader=self.services.leadership,
        )  # fmt: skip
        if settings.http_port is not None:
            self.web = WebServer(build_web_app(self.services))
            self.web.app.state.wechat = self.wechat
            self.web.app.state.bot_probe = self.application.bot.get_me  # /readyz, when no call was made lately
            await self.web.start(settings.http_host, settings.http_port)
            if not self.services.console.base_url:  # no public console_url configured: our own address
                self.services.console.base_url = f"{self.web.url}/console/"
            if self.standin is not None:  # the offline demo's chat page links to the console (one-tap sign-in)
                self.standin.links = [{"label": t("zh-CN", "console.demo_link"),
                                       "title": t("zh-CN", "console.demo_link_title"),
                                       "url": f"{self.services.console.base_url}demo"}]  # fmt: skip
        # Updates an earlier process took in but did not finish (killed mid-way): queued again before any new one
        # is fetched, so Telegram's redelivery of one of them is dropped as already recorded. On PostgreSQL every
        # few seconds too: another process's unfinished updates are taken over when it dies (chat_order.py).
        await self.application.bot_data["gate"].start(self.application)
        updater = self.application.updater
        assert updater is not None
        if settings.mode == "webhook" and not settings.offline_demo:
            assert settings.webhook_url
            # The path Telegram posts to is the one in the public URL (behind a reverse proxy, the same path).
            path = urlsplit(settings.webhook_url).path.strip("/") or "telegram"
            # Without a secret anyone who can reach the port could forge updates: make one per start, or with many
            # processes on PostgreSQL one for all of them, kept in the database (each calls setWebhook with it).
            secret = settings.webhook_secret or secrets.token_urlsafe(32)
            if not settings.webhook_secret and self.services.db.dialect == "postgresql":
                secret = await shared_secret(self.services.db, token.split(":", 1)[0], secret)
            self.webhook = TelegramWebhook(self.application, path, secret)
            await self.webhook.start(settings.webhook_listen, settings.webhook_port, settings.webhook_url)
        else:
            await updater.start_polling(timeout=poll_timeout, drop_pending_updates=False, bootstrap_retries=3)

    async def stop(self) -> None:
        if self.webhook is not None:  # no new updates from Telegram while the rest winds down
            await self.webhook.stop()
            self.webhook = None
        if self.web is not None:
            await self.web.stop()
            self.web = None
        if self.services is not None and self.services.outbox is not None:
            await self.services.outbox.stop()  # before the bot it sends through goes away
        if self.wechat is not None:
            await self.wechat.stop()
            self.wechat = None
        if self.application is not None:
            if self.application.updater and self.application.updater.running:
                await self.application.updater.stop()
            if self.application.running:
                await self.application.stop()
            await self.application.bot_data["gate"].stop()
            await self.application.shutdown()
            self.application = None
        if self.standin is not None:
            await self.standin.stop()
            self.standin = None
        if self.catalog_watch is not None:
            await self.catalog_watch.stop()
            self.catalog_watch = None
        if self.services is not None:
            await self.services.close()
            self.services = None
        if self.polling is not None:
            await self.polling.release()
            self.polling = None
        if self.live is not None:
            self.live.release()
            self.live = None


DEMO_WORKER, DEMO_SUPERVISOR, DEMO_KEEPER = 2001, 3001, 4001  # the chat page's 网格员老李, 社区书记, 驿站站长老陈
DEMO_KEEPER_PLACE = "xz-hanfeng-xiaoge"  # the bundled list's first Xuzhou station


async def seed_demo_people(services: Services) -> None:
    """Offline demo only: make the chat page's grid worker work every grid and its supervisor every street,
    so a report filed on the page reaches someone the visitor can switch to; its station keeper keeps one station."""
    worker = await services.users.identify("telegram", str(DEMO_WORKER), "网格员老李")
    supervisor = await services.users.identify("telegram", str(DEMO_SUPERVISOR), "社区书记")
    for grid in services.grids.grids("grid"):
        await services.roles.grant(worker.id, "worker", grid.id, "demo")
    for street in services.grids.grids("street"):
        await services.roles.grant(supervisor.id, "supervisor", street.id, "demo")
    stations = [p.id for p in services.finder.catalog.places if p.kind == "station"]
    if stations:  # the keeper of one station (the bundled list's, or any when another list is loaded)
        keeper = await services.users.identify("telegram", str(DEMO_KEEPER), "驿站站长老陈")
        place = DEMO_KEEPER_PLACE if DEMO_KEEPER_PLACE in stations else stations[0]
        await services.roles.grant(keeper.id, "keeper", place, "demo")
