"""What a place's keeper (or an admin) said about it from the chat, carried with the place into every answer.

Kept beside the place rather than inside the keepers package so the catalogue and the presenters can show it
without depending on how it was set: today's status (until when), the entrance photo, when the station last
updated and last confirmed its data, and whether riders dispute it (待核实).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STATUSES = ("open", "closed", "full", "no_power", "no_water")


@dataclass(frozen=True)
class Live:
    status: str = "open"
    note: str = ""
    until: datetime | None = None  # the status lapses back to "open" at this moment; None: until changed
    photo: str = ""  # sha256 of the entrance photo in the photo store
    updated_at: datetime | None = None  # last change from the chat (keeper or admin)
    confirmed_at: datetime | None = None  # last confirmation by a keeper, an admin or an import
    disputed: bool = False  # 待核实: three riders flagged it within a day and nobody has confirmed since

    def status_at(self, now: datetime) -> str:
        """Today's status if it still holds at `now`; a lapsed "closed until 14:00" is just open again."""
        if self.until is not None and now >= self.until:
            return "open"
        return self.status
