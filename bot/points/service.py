"""/points, redeeming a reward, and the keeper's /redeem CODE.

A code is made when the rider taps 兑换 (nothing is spent yet) and spent when the place's keeper confirms it:
in one write transaction the code is checked (exists, unused, unexpired, this keeper's place, the rider's
balance still covers it, today's stock not gone), marked used by an UPDATE that only one caller can win, and
the spending appended to the ledger with the redemption as its idempotency key. Two keepers confirming the same
code at once therefore take the points exactly once; every refusal says which of those checks failed.
"""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from datetime import datetime, timedelta

from bot.geo.index import great_circle_m
from bot.keepers import actions
from bot.keepers.common import Deps, recipient
from bot.media.photos import PhotoStore
from bot.outbox import messages as out
from bot.outbox.store import enqueue
from bot.people.model import utc_stamp
from bot.points.qr import qr_png
from bot.presenters.places import distance_text
from bot.reports.common import POINTS_JOINED, POINTS_VALID, Reply
from bot.store import keepers as keeper_store
from bot.store import points as store
from bot.store import users as user_store
from bot.store.users import User
from bot.texts import t

CODE_TTL = timedelta(minutes=30)
MAX_GUESSES = 10  # codes nobody issued, per keeper within GUESS_WINDOW, before /redeem waits
GUESS_WINDOW = timedelta(minutes=15)
FRESH_LOCATION = timedelta(hours=1)
NEAR_RADIUS_M = 5000.0
NEAR_MAX = 5
HISTORY = 5
POINTS_CORRECTION = 5  # a rider's correction a keeper or admin confirms


class RedeemRefused(Exception):
    """Why a code was not accepted; `code` names a `redeem.*` text."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def normalise_code(text: str) -> str | None:
    """Six digits, whatever the keyboard: full-width digits and spaces are fine."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace() and ch != "-")
    return digits if len(digits) == 6 and digits.isascii() and digits.isdigit() else None


class PointsService:
    def __init__(self, deps: Deps, photos: PhotoStore) -> None:
        self.deps = deps
        self.photos = photos

    def _today(self, now: datetime | None = None) -> str:
        return (now or self.deps.now()).astimezone(self.deps.tz).date().isoformat()

    # --- /points ----------------------------------------------------------------------------------------

    async def show(self, user: User) -> Reply:
        """Balance, the last movements, how points are earned, and rewards near where the rider is now."""
        lang = user.lang
        balance = await store.balance(self.deps.db.conn, user.id)
        lines = [t(lang, "points.total", total=balance)]
        history = await store.movements(self.deps.db, user.id, HISTORY)
        if history:
            lines += ["", t(lang, "points.recent")]
            for m in history:
                lines.append(t(lang, "points.line", date=m.at[:10], reason=self.reason_text(lang, m), delta=m.delta))
        lines += ["", t(lang, "points.how", valid=POINTS_VALID, joined=POINTS_JOINED, correction=POINTS_CORRECTION)]
        near, buttons = await self._near(user, balance)
        lines += ["", *near]
        return Reply([out.text("\n".join(lines), buttons=buttons or None)])

    def reason_text(self, lang: str, m: store.Movement) -> str:
        if m.reason in {"valid_report", "joined_report"}:
            return t(lang, f"points.reason.{m.reason}") + (f" SP-{m.report_id:06d}" if m.report_id else "")
        if m.kind == "spent":
            return t(lang, "points.reason.spent", note=m.note)
        if m.reason == "correction":
            return t(lang, "points.reason.correction", note=m.note)
        return t(lang, f"points.kind.{m.kind}") + (f"：{m.note}" if m.note else "")

    async def _near(self, user: User, balance: int) -> tuple[list[str], out.Buttons]:
        fresh = await user_store.get_user(self.deps.db, user.id)
        lang = user.lang
        if fresh is None or fresh.last_lat is None or fresh.last_lon is None or fresh.last_loc_at is None:
            return [t(lang, "points.need_location")], []
        if self.deps.now() - datetime.fromisoformat(fresh.last_loc_at) > FRESH_LOCATION:
            return [t(lang, "points.need_location")], []
        lat, lon = fresh.last_lat, fresh.last_lon
        found = []
        for reward in await store.active_rewards(self.deps.db, self._today()):
            place = self.deps.place(reward.place_id)
            if place is None:
                continue
            distance = great_circle_m(lat, lon, place.lat, place.lon)
            if distance <= NEAR_RADIUS_M:
                found.append((distance, reward, place))
        if not found:
            return [t(lang, "points.none_near")], []
        found.sort(key=lambda x: (x[0], x[1].id))
        lines, buttons = [t(lang, "points.near")], []
        for n, (distance, reward, place) in enumerate(found[:NEAR_MAX], 1):
            lines.append(
                t(lang, "points.reward_line", n=n, name=reward.name, place=place.name, cost=reward.cost,
                  distance=distance_text(lang, distance))
            )  # fmt: skip
            if reward.cost <= balance:
                label = t(lang, "points.btn_redeem", n=n, name=reward.name[:12])
                buttons.append([out.button(label, actions.make("w", "-", str(reward.id)))])
        return lines, buttons

    # --- the rider's code -------------------------------------------------------------------------------

    async def redeem(self, user: User, reward_id: str) -> Reply:
        lang = user.lang
        if not reward_id.isdigit():
            return Reply(alert=t(lang, "callback.expired"), popup=True)
        now = self.deps.now()
        stamp, expires = utc_stamp(now), now + CODE_TTL
        async with self.deps.db.transaction() as conn:
            found = await store.reward(conn, int(reward_id))
            item = found[0] if found else None
            refusal = None
            if item is None or not found[1] or not item.valid_from <= self._today(now) <= item.valid_to:
                refusal = "redeem.gone"
            elif await store.balance(conn, user.id) < item.cost:
                refusal = "redeem.not_enough"
            elif await store.used_today(conn, item.id, self._today(now)) >= item.daily_stock:
                refusal = "redeem.out_of_stock"
            else:
                code = await self._new_code(conn, stamp)
                await store.insert_redemption(conn, code, user.id, item, stamp, utc_stamp(expires))
        if refusal is not None:
            return Reply([out.text(t(lang, refusal, cost=item.cost if item else 0))])
        assert item is not None
        place = self.deps.place(item.place_id)
        until = expires.astimezone(self.deps.tz).strftime("%H:%M")
        text = t(lang, "redeem.code", code=code, name=item.name, place=place.name if place else item.place_id,
                 cost=item.cost, until=until)  # fmt: skip
        stored = await self.photos.put(await asyncio.to_thread(qr_png, code))  # CPU work: off the loop
        return Reply([out.text(text), out.photo(stored.sha256, caption=t(lang, "redeem.qr_caption", code=code))])

    async def _new_code(self, conn, stamp: str) -> str:  # type: ignore[no-untyped-def]
        for _ in range(50):
            code = f"{secrets.randbelow(1_000_000):06d}"
            if not await store.code_in_use(conn, code, stamp):
                return code
        raise RuntimeError("no free redemption code")  # 50 draws all live among a million: broken randomness

    # --- the keeper's /redeem CODE ----------------------------------------------------------------------

    async def confirm(self, keeper: User, args: list[str]) -> Reply:
        lang = keeper.lang
        code = normalise_code(" ".join(args))
        if code is None:
            return Reply([out.text(t(lang, "redeem.usage"))])
        mine = set(await self.deps.keeper_places(keeper))
        if not mine:
            return Reply([out.text(t(lang, "keeper.not_keeper"))])
        now = self.deps.now()
        stamp, day = utc_stamp(now), self._today(now)
        if await keeper_store.refusals_since(self.deps.db, keeper.id, utc_stamp(now - GUESS_WINDOW)) >= MAX_GUESSES:
            return Reply([out.text(t(lang, "redeem.rate_limited", minutes=int(GUESS_WINDOW.total_seconds() // 60)))])
        try:
            async with self.deps.db.transaction() as conn:
                found = await store.redemption_by_code(conn, code)
                if found is None:
                    raise RedeemRefused("redeem.unknown")
                if found.place_id not in mine:
                    other = self.deps.place(found.place_id)
                    raise RedeemRefused("redeem.other_place", place=other.name if other else found.place_id)
                if found.state == "used":
                    raise RedeemRefused("redeem.used")
                if found.expires_at <= stamp:
                    raise RedeemRefused("redeem.expired")
                reward = await store.reward(conn, found.reward_id)
                if reward is None or not reward[1]:
                    raise RedeemRefused("redeem.gone")
                balance = await store.balance(conn, found.user_id)
                if balance < found.cost:
                    raise RedeemRefused("redeem.balance", cost=found.cost, balance=balance)
                if await store.used_today(conn, found.reward_id, day) >= reward[0].daily_stock:
                    raise RedeemRefused("redeem.out_of_stock")
                if not await store.claim_redemption(conn, found.id, keeper.id, stamp, day):
                    raise RedeemRefused("redeem.used")
                ref = f"redeem:{found.id}"
                if not await store.append(conn, found.user_id, "spent", -found.cost, "redeem", stamp, ref=ref,
                                          note=reward[0].name, actor=f"keeper:{keeper.id}"):  # fmt: skip
                    raise RedeemRefused("redeem.used")
                rider = await self.deps.user(found.user_id)
                if rider is not None:
                    message = out.text(t(rider.lang, "redeem.rider_done", name=reward[0].name, cost=found.cost,
                                         balance=balance - found.cost))  # fmt: skip
                    await enqueue(conn, f"{ref}:told", recipient(rider), message)
        except RedeemRefused as refused:
            # Every refusal is audited on the keeper's place; codes nobody issued also count towards the limit
            # on guessing (six digits are typed, not secret: a keeper must not be able to try them all).
            async with self.deps.db.transaction() as conn:
                await keeper_store.audit(conn, sorted(mine)[0], keeper.id, "redeem_refused", code, refused.code, stamp)
            return Reply([out.text(t(lang, refused.code, **refused.params))])
        self.deps.wake_outbox()
        return Reply([out.text(t(lang, "redeem.confirmed", name=reward[0].name, cost=found.cost))])
