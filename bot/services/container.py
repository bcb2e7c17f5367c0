"""The core, assembled: one place that opens the database and builds the services every door shares."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot import metrics, observe
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.console.auth import ConsoleAuth
from bot.console.service import ConsoleService
from bot.grids.index import GridIndex
from bot.keepers.common import Deps
from bot.keepers.corrections import CorrectionService
from bot.keepers.service import KeeperService
from bot.keepers.stations import Stations
from bot.keepers.suggestions import SuggestionService
from bot.media.photos import PhotoStore
from bot.outbox.dispatcher import OutboxDispatcher, Sender
from bot.people.roles import RoleService
from bot.people.secret import secret_path
from bot.points.service import PointsService
from bot.presenters.whereabouts import stale_text
from bot.reports import questions_file as q
from bot.reports.common import Reply
from bot.reports.service import ReportPolicy, ReportService
from bot.schedule.deadlines import DeadlineWatcher, SupervisorViews
from bot.schedule.quiet import parse_quiet
from bot.services.catalog_sync import CatalogWatcher
from bot.services.finder import FinderService, Geocoder
from bot.services.grids_admin import build_grid_index, ensure_grids_seeded, grids_csv_path
from bot.services.guard import FloodGuard, flood_guard
from bot.services.places_admin import build_catalog, ensure_seeded
from bot.services.users import UserService
from bot.store import dialogs
from bot.store.catalog import versions as catalog_versions
from bot.store.db import Database
from bot.store.dialogs import get_dialog
from bot.store.leadership import Leadership, leadership_for
from bot.store.users import User
from bot.texts import all_labels

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    finder: FinderService
    users: UserService
    grids: GridIndex
    roles: RoleService
    photos: PhotoStore
    reports: ReportService
    deadlines: DeadlineWatcher
    views: SupervisorViews
    console: ConsoleService = None  # type: ignore[assignment]  # set in open_services
    flood: FloodGuard = field(default_factory=FloodGuard)
    outbox: OutboxDispatcher | None = None
    # Which process dispatches and runs the scheduled jobs (one per database; on SQLite always this one).
    leadership: Leadership = field(default_factory=Leadership)
    # Station keepers, points and their buttons: set by open_services (they read the live catalogue through it).
    keepers: KeeperService = None  # type: ignore[assignment]
    points: PointsService = None  # type: ignore[assignment]
    stations: Stations = None  # type: ignore[assignment]
    # The catalogue versions (bot/store/catalog.py) this process's finder and grid index were built from.
    loaded_versions: dict[str, int] = field(default_factory=dict)
    _reloading: dict[str, asyncio.Lock] = field(
        default_factory=lambda: {"places": asyncio.Lock(), "grids": asyncio.Lock()}, repr=False
    )

    async def location_answer(self, user: User, lat: float, lon: float) -> Reply | None:
        """A shared location that answers the person's pending question — the place of a station being suggested,
        or of the report being drafted — or None (then it is a search). The person has one dialog: it is read once
        for both (one database call less for every location a rider shares)."""
        dialog = await get_dialog(self.db, user.id)
        answer = await self.stations.on_location_in(user, lat, lon, dialog)
        if answer is None:
            answer = await self.reports.on_location_in(user, lat, lon, dialog)
        return answer

    async def text_answer(self, user: User, text: str) -> Reply | None:
        """Typed words that answer the person's pending question — a keeper's note, a suggested place's name, a
        report's words or typed answer, a worker's reason or note — or None (then they are a search). The dialog
        is read once for all of them. Words their update already took (the update run again after a kill,
        docs/RELIABILITY.md promise 18) are recognised by the update recorded with them (bot/store/dialogs.py)
        and answered as done: nothing changes twice, and they are not read afresh as a place name."""
        dialog = await get_dialog(self.db, user.id)
        step = observe.step()
        if step is not None:
            moved = dialog if dialog is not None and dialog.moved_by(step) else None
            answered = await dialogs.answered(self.db, user.id) if user.dialog_step == step else None
            if moved is not None or answered is not None:
                again = await self.stations.words_again(user, moved, answered)
                if again is None:
                    again = await self.reports.words_again(user, moved, answered)
                if again is not None:
                    return again
        if dialog is not None and text.strip() in all_labels("draft.cancel"):
            return await self.reports.cancel(user, step)  # any pending question, the stations' too: never its words
        answer = await self.stations.on_text_in(user, text, dialog, step)
        if answer is None:
            answer = await self.reports.on_text_in(user, text, dialog, step)
        return answer

    async def photo_answer(self, user: User, data: bytes, *, file_ref: str = "", caption: str = "") -> Reply:
        """A photo: the answer to a question of the stations' (an entrance photo, a flag's, a suggested place's),
        a worker's after-photo, or a rider's 随手拍 (starting one if needed). A photo that closed a question records
        its update with the close; the same update run again (after a kill, docs/RELIABILITY.md promise 18) is
        answered as done — no second change, and no 随手拍 draft started from it."""
        step = observe.step()
        if step is not None and user.dialog_step == step:
            answered = await dialogs.answered(self.db, user.id)
            if answered is not None and answered.step == step:
                again = await self.stations.words_again(user, None, answered)
                if again is not None:
                    return again
        ours = await self.stations.on_photo(user, data, step)
        return ours or await self.reports.on_photo(user, data, file_ref=file_ref, caption=caption)

    def wake_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.wake()

    async def send_now(self, idem_key: str) -> None:
        """An answer queued in a commit goes out at once, like a direct reply; if this send fails (or the process
        dies first) the row is still pending and the dispatcher delivers it."""
        if self.outbox is None:
            return
        try:
            await self.outbox.deliver_now(idem_key)
        except Exception:
            log.exception("could not send %s at once; the outbox will", idem_key)
            self.outbox.wake()

    async def start_outbox(self, senders: dict[str, Sender], **options: float) -> OutboxDispatcher:
        """The doors bring their senders; from then on every queued message flows out (from the leader)."""
        self.outbox = OutboxDispatcher(self.db, senders, leader=self.leadership, **options)
        await self.outbox.start()
        return self.outbox

    async def start_leadership(self) -> None:
        """Join the election (PostgreSQL) or lead at once (SQLite); the gauge follows every change."""
        self.leadership.subscribe(metrics.leadership_changed)
        await self.leadership.start()
        metrics.leadership_changed(self.leadership.is_leader)

    async def reload_places(self) -> None:
        """After a change (here or in another process): swap in a fresh catalogue. The version is read before the
        rows, so a change committed in between is at worst loaded twice, never missed."""
        async with self._reloading["places"]:
            version = (await catalog_versions(self.db)).get("places", 0)
            self.finder.replace_catalog(await build_catalog(self.db))
            self.loaded_versions["places"] = version

    async def reload_grids(self) -> None:
        """After a grid import: swap in a fresh index (readers holding the old one finish on it unharmed)."""
        async with self._reloading["grids"]:
            version = (await catalog_versions(self.db)).get("grids", 0)
            self.grids = await build_grid_index(self.db)
            self.loaded_versions["grids"] = version

    def catalog_watcher(self) -> CatalogWatcher:
        """What keeps this process's catalogue and grids current with imports by other processes and the CLI."""
        return CatalogWatcher(
            self.db, {"places": self.reload_places, "grids": self.reload_grids}, lambda: self.loaded_versions
        )

    async def close(self) -> None:
        if self.outbox is not None:
            await self.outbox.stop()
            self.outbox = None
        await self.leadership.stop()
        await self.db.close()


async def open_services(settings: Settings, clock: Clock | None = None) -> Services:
    db = await Database(settings.database).open()
    seeded = await ensure_seeded(db, settings.stations_csv)
    if seeded is not None and not seeded.ok:
        log.error(
            "bundled place list %s has %d errors; starting empty",
            settings.stations_csv,
            len(seeded.parsed.errors),
        )
    grids_csv = grids_csv_path(settings)
    seeded_grids = await ensure_grids_seeded(db, grids_csv)
    if seeded_grids is not None and not seeded_grids.ok:
        log.error("bundled grid list %s has %d errors; no grids", grids_csv, len(seeded_grids.parsed.errors))
    loaded_versions = await catalog_versions(db)  # before the rows: a change meanwhile is reloaded, not missed
    clock = clock or SystemClock(settings.tz)
    geocoder = Geocoder(settings.geocoder_url, settings.geocoder_user_agent) if settings.geocoder_url else None
    finder = FinderService(
        await build_catalog(db),
        clock,
        per_page=settings.results_per_page,
        radius_m=settings.search_radius_m,
        coverage_m=settings.coverage_km * 1000,
        ebike_speed_kmh=settings.ebike_speed_kmh,
        geocoder=geocoder,
    )
    roles = RoleService(
        db,
        clock,
        settings.admins,
        invite_secret=settings.invite_secret,
        invite_secret_file=secret_path(settings.db_path),
        join_budget=settings.join_failure_budget,
    )
    parsed = q.load(settings.categories_toml, {code for code, _, _ in await roles.departments()})
    if not parsed.ok:
        # Like a bad place list: no half-valid questionnaire; `rider-bot questions check` says what is wrong.
        log.error("category questions %s have %d errors; asking none", settings.categories_toml, len(parsed.errors))
    photos = open_photo_store(settings, db)
    services = Services(
        settings=settings,
        db=db,
        clock=clock,
        finder=finder,
        users=UserService(db, clock, settings.location_fresh_minutes),
        grids=await build_grid_index(db),
        roles=roles,
        photos=photos,
        reports=None,  # type: ignore[arg-type]  # set just below: it reads the live grid index through services
        deadlines=None,  # type: ignore[arg-type]
        flood=flood_guard(
            db,
            burst=settings.flood_burst,
            per_second=settings.flood_per_second,
            global_burst=settings.flood_global_burst,
            global_per_second=settings.flood_global_per_second,
        ),
        views=None,  # type: ignore[arg-type]
        leadership=leadership_for(db),
        loaded_versions=loaded_versions,
    )
    services.reports = ReportService(
        db,
        clock,
        roles,
        finder,
        photos,
        lambda: services.grids,
        policy=ReportPolicy(
            max_per_hour=settings.reports_per_hour,
            coverage_m=settings.coverage_km * 1000,
            category_routes=dict(settings.extra.get("category_routes", {})),
        ),
        wake_outbox=services.wake_outbox,
        questions=parsed.questionnaire,
    )
    services.reports.stale_location = lambda user: _stale_location(services, user)
    services.deadlines = DeadlineWatcher(
        db,
        clock,
        services.reports,
        roles,
        lambda: services.grids,
        quiet=parse_quiet(settings.quiet_hours),
        digest_at=settings.digest_at,
        wake_outbox=services.wake_outbox,
    )
    services.views = SupervisorViews(services.deadlines)
    deps = Deps(
        db, clock, roles, lambda place_id: services.finder.place(place_id), services.reload_places,
        services.wake_outbox, settings.tz,
    )  # fmt: skip
    services.keepers = KeeperService(deps, photos)
    services.points = PointsService(deps, photos)
    services.stations = Stations(
        services.keepers, services.points, CorrectionService(deps, photos), SuggestionService(deps, photos)
    )
    services.console = ConsoleService(
        ConsoleAuth(db, clock, roles),
        services.reports,
        lambda: services.grids,
        base_url=_console_base(settings.console_url),
        tiles_crs=settings.console_tiles_crs,
    )
    return services


def open_photo_store(settings: Settings, db: Database) -> PhotoStore:
    """On PostgreSQL photos live in the database every process shares (any process serves and forwards a photo
    another received); on SQLite — one process, the embedded default — in files beside the database."""
    if db.dialect == "postgresql":
        return PhotoStore(db=db)
    return PhotoStore(settings.photo_dir or settings.db_path.parent / "photos")


def _console_base(url: str | None) -> str:
    """The console's public address ending in "/console/" ('' until the HTTP server knows its own)."""
    if not url:
        return ""
    url = url.rstrip("/")
    return url + "/" if url.endswith("/console") else url + "/console/"


def _stale_location(services: Services, user: User) -> str | None:
    """The words for a stored location too old to reuse without asking; None when it is fresh (or unknown)."""
    age = services.users.location_age(user)
    if age is None or services.users.location_fresh(user):
        return None
    return stale_text(user.lang, services.finder, user, age, services.settings.tz)
