"""Everything the stations feature takes from a door, in one place: its commands, `k…` buttons
(bot/keepers/actions.py) and the answers to questions it asked (a note, an entrance photo, a correction's words,
a suggested place's location). Each door calls these, so Telegram and WeChat behave the same."""

from __future__ import annotations

from bot.keepers import actions
from bot.keepers.common import FLAG_DIALOG, NOTE_DIALOG, PHOTO_DIALOG, SUGGEST_DIALOG
from bot.keepers.corrections import CorrectionService
from bot.keepers.service import KeeperService
from bot.keepers.suggestions import SuggestionService
from bot.outbox import messages as out
from bot.points.service import PointsService
from bot.reports.common import Reply
from bot.store import dialogs
from bot.store.users import User
from bot.texts import t

_OUR_DIALOGS = frozenset({NOTE_DIALOG, PHOTO_DIALOG, FLAG_DIALOG, SUGGEST_DIALOG})
COMMANDS = ("station", "status", "hours", "amenities", "phone", "redeem", "points", "suggest")


class Stations:
    def __init__(
        self,
        keepers: KeeperService,
        points: PointsService,
        corrections: CorrectionService,
        suggestions: SuggestionService,
    ) -> None:
        self.keepers = keepers
        self.points = points
        self.corrections = corrections
        self.suggestions = suggestions

    async def command(self, user: User, name: str, args: list[str]) -> Reply | None:
        """A slash command of ours with its words ("/hours 08:00-22:00"); None for a command that is not ours."""
        keepers = self.keepers
        calls = {
            "station": lambda: keepers.station(user, args),
            "status": lambda: keepers.status_command(user, args),
            "hours": lambda: keepers.set_hours(user, args),
            "amenities": lambda: keepers.set_amenities(user, args),
            "phone": lambda: keepers.set_phone(user, args),
            "redeem": lambda: self.points.confirm(user, args),
            "points": lambda: self.points.show(user),
            "suggest": lambda: self.suggestions.begin(user),
        }
        call = calls.get(name)
        return await call() if call is not None else None

    async def press(self, user: User, data: str | None) -> Reply:
        action = actions.parse(data)
        if action is None:
            return Reply(alert=t(user.lang, "callback.expired"), popup=True)
        letter, arg, target = action.letter, action.arg, action.target
        if letter == "w":
            return await self.points.redeem(user, target)
        if letter == "x":
            return await self.keepers.skip(user)
        if letter == "f":
            return self.corrections.menu(user, target)
        if letter == "r":
            return await self.corrections.on_reason(user, arg, target)
        if letter == "g":
            return await self.suggestions.on_kind(user, arg)
        if letter in {"a", "d"}:
            return await self.suggestions.decide(user, target, approve=letter == "a")
        if letter in {"y", "n"}:
            return await self.corrections.resolve(user, target, right=letter == "y")
        return await self.keepers.on_button(user, action)

    async def _asked(self, user: User) -> str | None:
        """The kind of our pending question, or None: one read on every message, so a rider's ordinary text,
        photo or location costs the report flow and the finder nothing more."""
        found = await dialogs.get_dialog(self.keepers.deps.db, user.id)
        return found.kind if found is not None and found.kind in _OUR_DIALOGS else None

    async def on_text_in(
        self, user: User, text: str, dialog: dialogs.Dialog | None, step: str | None = None
    ) -> Reply | None:
        """An answer to a question of ours, or None (then the text is someone else's business); `dialog`: the
        person's, as the caller read it (`Services.text_answer`); `step`: the update the words came in, recorded
        with the write that takes them (bot/store/dialogs.py)."""
        kind = dialog.kind if dialog is not None and dialog.kind in _OUR_DIALOGS else None
        if kind == NOTE_DIALOG:
            return await self.keepers.on_text(user, text, step)
        if kind == FLAG_DIALOG:
            return await self.corrections.on_text(user, text, step)
        if kind == SUGGEST_DIALOG:
            return await self.suggestions.on_text(user, text, step)
        return None

    async def words_again(
        self, user: User, moved: dialogs.Dialog | None, answered: dialogs.Answered | None
    ) -> Reply | None:
        """Words (or a photo) of ours taken already, their update run again (after a kill): answered as done,
        nothing changed; None when they are not ours. `moved`: the dialog they moved on; `answered`: the question
        they closed."""
        if moved is not None:
            return self.suggestions.again(user, moved.data) if moved.kind == SUGGEST_DIALOG else None
        if answered is None:
            return None
        said = answered.data.get("said")
        if said and answered.kind in _OUR_DIALOGS:  # the answer the first run gave (a refusal, the flag's thanks)
            return Reply([out.text(said)])
        if answered.kind in (NOTE_DIALOG, PHOTO_DIALOG):  # the keeper's note or entrance photo: the place's card
            return await self.keepers.note_again(user, answered.data)
        return None

    async def on_photo(self, user: User, data: bytes, step: str | None = None) -> Reply | None:
        """A photo answering a question of ours, or None. `step`: its update, recorded with the close (a re-run
        of it is answered by `words_again` through `Services.photo_answer`)."""
        kind = await self._asked(user)
        if kind == PHOTO_DIALOG:
            return await self.keepers.on_photo(user, data, step)
        if kind == FLAG_DIALOG:
            return await self.corrections.on_photo(user, data, step)
        if kind == SUGGEST_DIALOG:
            return await self.suggestions.on_photo(user, data, step)
        return None

    async def on_location(self, user: User, lat: float, lon: float) -> Reply | None:
        """The location of a place being suggested, or None (then it is a search or a report's place)."""
        return await self.on_location_in(user, lat, lon, await dialogs.get_dialog(self.keepers.deps.db, user.id))

    async def on_location_in(self, user: User, lat: float, lon: float, dialog: dialogs.Dialog | None) -> Reply | None:
        """`on_location` with the person's dialog as the caller read it (`Services.location_answer`)."""
        if dialog is None or dialog.kind != SUGGEST_DIALOG:
            return None
        return await self.suggestions.on_location(user, lat, lon)
