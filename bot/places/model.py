"""A place a rider can go to: a rest station, a canteen, or a friendly community, merchant or hospital."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.places.hours import Hours
from bot.places.live import Live


@dataclass(frozen=True)
class Place:
    id: str
    name: str
    kind: str
    lat: float  # WGS-84, always: conversion happens once, on import
    lon: float
    city: str = ""
    district: str = ""
    address: str = ""
    hours: Hours = field(default_factory=Hours)
    amenities: frozenset[str] = frozenset()
    phone: str = ""
    rider_policy: frozenset[str] = frozenset()
    route_map: str = ""
    aliases: tuple[str, ...] = ()
    approximate: bool = True
    notes: str = ""
    src_crs: str = "wgs84"
    live: Live | None = None  # the keeper's word from the chat (bot/places/live.py); None: nobody said anything

    def has(self, amenity: str) -> bool:
        return amenity in self.amenities
