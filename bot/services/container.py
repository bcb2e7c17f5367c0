"""The core, assembled: one place that opens the database and builds the services every door shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.services.finder import FinderService, Geocoder
from bot.services.places_admin import build_catalog, ensure_seeded
from bot.services.users import UserService
from bot.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    finder: FinderService
    users: UserService

    async def reload_places(self) -> None:
        self.finder.replace_catalog(await build_catalog(self.db))

    async def close(self) -> None:
        await self.db.close()


async def open_services(settings: Settings, clock: Clock | None = None) -> Services:
    db = await Database(settings.db_path).open()
    seeded = await ensure_seeded(db, settings.stations_csv)
    if seeded is not None and not seeded.ok:
        log.error(
            "bundled place list %s has %d errors; starting empty",
            settings.stations_csv,
            len(seeded.parsed.errors),
        )
    clock = clock or SystemClock(settings.tz)
    geocoder = Geocoder(settings.geocoder_url, settings.geocoder_user_agent) if settings.geocoder_url else None
    finder = FinderService(
        await build_catalog(db),
        clock,
        per_page=settings.results_per_page,
        radius_m=settings.search_radius_m,
        ebike_speed_kmh=settings.ebike_speed_kmh,
        geocoder=geocoder,
    )
    return Services(settings=settings, db=db, clock=clock, finder=finder, users=UserService(db))
