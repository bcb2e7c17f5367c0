"""The report lifecycle: the pure state machine against a hand-written reference, then the real ReportService driven
by random people pressing random (and forged, and stale) buttons while the clock moves, checked against a model
after every step: statuses, versions, the audit log, refusals, points, notices and pending dialogs."""

from __future__ import annotations

import asyncio
import io
import itertools
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.clock import ManualClock
from bot.config import Settings
from bot.reports import actions
from bot.reports import service as service_module
from bot.reports.service import Reply, ReportService
from bot.reports.states import (
    OPEN,
    REPORTER_ACTIONS,
    TERMINAL,
    TRANSITIONS,
    WORKER_ACTIONS,
    Action,
    InvalidTransition,
    Status,
    advance,
    allowed_actions,
)
from bot.services.container import Services, open_services
from bot.store.integrity import integrity_problems

S, A = Status, Action

# ---------------------------------------------------------------- the lifecycle, written out by hand


def reference(status: Status, action: Action) -> Status | None:
    """The documented lifecycle (docs: new → forwarded → accepted → resolved → confirmed / reopened, with
    transferred, rejected and merged on the side), independent of the TRANSITIONS table."""
    if status == S.NEW:
        return {A.ROUTE: S.FORWARDED, A.MERGE: S.MERGED}.get(action)
    if status in (S.FORWARDED, S.TRANSFERRED, S.REOPENED):
        return {A.ACCEPT: S.ACCEPTED, A.TRANSFER: S.TRANSFERRED, A.REJECT: S.REJECTED}.get(action)
    if status == S.ACCEPTED:
        return {A.RESOLVE: S.RESOLVED, A.TRANSFER: S.TRANSFERRED, A.REJECT: S.REJECTED}.get(action)
    if status == S.RESOLVED:
        return {A.CONFIRM: S.CONFIRMED, A.REOPEN: S.REOPENED}.get(action)
    return None  # confirmed, rejected, merged: closed for good


statuses = st.sampled_from(list(Status))
action_values = st.sampled_from(list(Action))


def test_every_status_is_reachable_from_new() -> None:
    seen, frontier = {S.NEW}, [S.NEW]
    while frontier:
        current = frontier.pop()
        for action in allowed_actions(current):
            nxt = advance(current, action)
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(Status)


def test_terminal_statuses_have_no_way_out_and_everything_else_has_one() -> None:
    for status in Status:
        assert (not allowed_actions(status)) == (status in TERMINAL), status
    assert TERMINAL.isdisjoint(OPEN)
    assert OPEN | TERMINAL | {S.RESOLVED} == set(Status), "resolved is neither open nor closed: it awaits the rider"


def test_the_table_is_the_reference_lifecycle() -> None:
    for status in Status:
        for action in Action:
            assert TRANSITIONS.get((status, action)) == reference(status, action), (status, action)


@given(statuses, action_values)
def test_advance_raises_exactly_for_pairs_not_in_the_table(status: Status, action: Action) -> None:
    if (status, action) in TRANSITIONS:
        assert advance(status, action) == TRANSITIONS[(status, action)]
        assert advance(status.value, action.value) == TRANSITIONS[(status, action)], "plain strings work too"
    else:
        with pytest.raises(InvalidTransition) as raised:
            advance(status, action)
        assert (raised.value.status, raised.value.action) == (status, action)
        assert isinstance(raised.value, ValueError)


@given(st.text(max_size=12), action_values)
def test_unknown_statuses_and_actions_are_not_silently_accepted(word: str, action: Action) -> None:
    if word not in {s.value for s in Status}:
        with pytest.raises(ValueError):
            advance(word, action)
    if word not in {a.value for a in Action}:
        with pytest.raises(ValueError):
            advance(S.NEW, word)


@given(st.lists(action_values, max_size=60))
def test_random_action_sequences_skipping_invalid_ones_follow_the_reference(sequence: list[Action]) -> None:
    status = S.NEW
    for action in sequence:
        expected = reference(status, action)
        try:
            status = advance(status, action)
        except InvalidTransition:
            assert expected is None, (status, action)
        else:
            assert status == expected
        assert status in Status
        if status in TERMINAL:
            assert not allowed_actions(status)


def test_confirm_and_reopen_only_from_resolved_and_resolve_only_from_accepted() -> None:
    assert {s for (s, a) in TRANSITIONS if a in (A.CONFIRM, A.REOPEN)} == {S.RESOLVED}
    assert {s for (s, a) in TRANSITIONS if a == A.RESOLVE} == {S.ACCEPTED}
    assert allowed_actions(S.RESOLVED) == {A.CONFIRM, A.REOPEN}
    assert {s for (s, a) in TRANSITIONS if a in (A.ROUTE, A.MERGE)} == {S.NEW}


def test_who_may_do_what_covers_every_human_action_once() -> None:
    assert WORKER_ACTIONS.isdisjoint(REPORTER_ACTIONS)
    assert WORKER_ACTIONS | REPORTER_ACTIONS | {A.ROUTE} == set(Action), "only routing is the system's own"


# ---------------------------------------------------------------- the real service, driven at random

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
ADMIN_TG = 9001
PEOPLE = {  # actor → Telegram id
    "rider": 1001,
    "worker": 2001,  # bound to the report's grid
    "other_worker": 2002,  # bound to a sibling grid of the same community
    "officer": 4001,  # a member of the 住建 department
    "stranger": 5001,
    "supervisor": 3001,  # of the community
    "admin": ADMIN_TG,
}
CATEGORIES = ("fire_lane", "lights")
TEXTS = ("已处理，通道畅通", "   ", "原因" * 300)
TICKS = (timedelta(minutes=5), timedelta(hours=2), timedelta(days=3), timedelta(days=8))


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(buffer, "JPEG")
    return buffer.getvalue()


BEFORE, AFTER = _jpeg((200, 80, 40)), _jpeg((40, 160, 60))


@dataclass
class M:
    """What the model believes about one report."""

    id: int
    status: Status
    version: int
    kind: str
    assignee: str
    grid_id: str | None
    category: str
    created_at: datetime
    followers: set[str]
    resolved_at: datetime | None = None


@dataclass
class World:
    services: Services
    clock: ManualClock
    users: dict[str, Any]
    g2: str
    g1: str
    community: str
    reports: dict[int, M] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # actor → the dialog we expect
    refusals: Counter = field(default_factory=Counter)
    points: set[tuple[int, int]] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)  # outbox idem keys that must exist
    announced: set[tuple[int, int]] = field(default_factory=set)  # (report, version) forwarded to assignees
    collisions: list[str] = field(default_factory=list)
    done: Counter = field(default_factory=Counter)  # successful actions, for the statistics
    trace: list[Any] = field(default_factory=list)

    @property
    def svc(self) -> ReportService:
        return self.services.reports

    def uid(self, actor: str) -> int:
        return self.users[actor].id

    # -------------------------------------------------------- the model's rules

    def targets(self) -> list[tuple[str, str]]:
        return [
            ("grid", self.g1),
            ("grid", self.g2),
            ("department", "zhujian"),
            ("department", "chengguan"),
            ("grid", self.community),  # not a grid: refused
            ("department", "nuclear"),  # no such department: refused
            ("grid", "no-such-grid"),
        ]

    def may_work(self, actor: str, m: M) -> bool:
        if actor == "admin":
            return True
        if actor == "supervisor":
            return m.grid_id == self.g2  # the community's supervisor answers for every report routed in it
        held = {"worker": ("grid", self.g2), "other_worker": ("grid", self.g1), "officer": ("department", "zhujian")}
        return held.get(actor) == (m.kind, m.assignee)

    def check(self, actor: str, rid: int, version: int | None, action: str) -> str | None:
        """The refusal reason ReportService._checked must give, or None."""
        m = self.reports.get(rid)
        if m is None:
            return "not_found"
        if not self.may_work(actor, m):
            return "forbidden"
        if version is not None and version != m.version:
            return "stale"
        if action in {a.value for a in Action} and reference(m.status, Action(action)) is None:
            return "invalid"
        return None

    def valid_target(self, kind: str, target: str, m: M) -> bool:
        if kind == "department":
            return target in {"zhujian", "chengguan", "xiaofang", "wuye", "gongan", "shizheng"}
        return target in {self.g1, self.g2, f"{self.community}-g3"} and target != m.assignee

    def refuse(self, actor: str, rid: int | None, action: str, reason: str) -> None:
        self.refusals[(self.uid(actor), rid, action, reason)] += 1

    def changed(self, m: M, action: Action, key: str | None, *, forward: bool = False) -> None:
        self.done[action.value] += 1
        m.status = reference(m.status, action)  # type: ignore[assignment]
        m.version += 1
        if key is not None:
            self.keys |= {f"r{m.id}:v{m.version}:{key}:u{self.uid(f)}:0" for f in m.followers}
        if forward:
            self.announced.add((m.id, m.version))

    # -------------------------------------------------------- steps

    def pick(self, index: int) -> int:
        """0-2: the newest reports that were not merged away; 3: the newest of all; 6: one that does not exist."""
        ids = sorted(self.reports)
        live = [i for i in ids if self.reports[i].status != S.MERGED] or ids
        if index == 3:
            return ids[-1]
        return live[-1 - index % len(live)] if index < 6 else 999_999

    async def submit(self, category: str, choice: str) -> None:
        rider, now = self.users["rider"], self.clock.now()
        recent = [m for m in self.reports.values() if m.created_at >= now - timedelta(hours=1)]
        reply = await self.svc.on_photo(rider, BEFORE)
        if len(recent) >= self.services.settings.reports_per_hour:
            assert len(reply.messages) == 1 and str(len(recent)) in reply.messages[0]["text"], reply
            return
        await self.svc.on_location(rider, *HERE)
        await self.svc.on_draft_button(rider, actions.DraftAction("cat", category))
        reply = await self.svc.on_draft_button(rider, actions.DraftAction("skip"))
        similar = sorted(
            m.id
            for m in self.reports.values()
            if m.category == category and m.status in OPEN - {S.NEW} and m.created_at >= now - timedelta(days=7)
        )
        offered = [b["data"] for row in reply.messages[-1].get("buttons") or [] for b in row]
        if similar:
            assert actions.draft("merge", similar[0]) in offered, (similar, offered)
        else:
            assert actions.draft("ok") in offered, offered
        new_id = max(self.reports, default=0) + 1
        if similar and choice == "merge":
            await self.svc.on_draft_button(rider, actions.DraftAction("merge", str(similar[0])))
            self.reports[new_id] = M(new_id, S.MERGED, 2, "", "", None, category, now, set())
            return
        if similar:
            await self.svc.on_draft_button(rider, actions.DraftAction("new"))
        await self.svc.on_draft_button(rider, actions.DraftAction("ok"))
        self.reports[new_id] = M(new_id, S.FORWARDED, 2, "grid", self.g2, self.g2, category, now, {"rider"})
        self.announced.add((new_id, 2))

    async def press(self, actor: str, verb: str, rid: int, mode: str, target: int, finish: bool, text: str) -> None:
        m = self.reports.get(rid)
        version = {"current": 0, "stale": -1, "future": 3}[mode] + (m.version if m else 1)
        user = self.users[actor]
        reply = await self.svc.on_work_button(user, actions.WorkAction(verb, rid, version))
        reason = self.check(actor, rid, None if verb == "show" else version, verb)
        if reason is not None:
            self.refuse(actor, rid, verb, reason)
            assert reply.alert and reply.popup, reply
            return
        assert m is not None
        if verb == "accept":
            self.changed(m, A.ACCEPT, "accepted")
            for follower in m.followers:
                if (self.uid(follower), rid) not in self.points:
                    self.points.add((self.uid(follower), rid))
                    self.keys.add(f"r{rid}:points:u{self.uid(follower)}")
        elif verb == "reject":
            self.pending[actor] = {"report_id": rid, "version": m.version, "action": "reject"}
        elif verb == "resolve":
            self.pending[actor] = {"report_id": rid, "version": m.version, "photos": []}
        elif verb == "transfer":
            offered = {b["data"] for row in reply.messages[0]["buttons"] for b in row}
            assert actions.target(rid, m.version, "department", "zhujian") in offered
            kind, name = self.targets()[target]
            await self.choose(actor, rid, m.version, kind, name)
        if finish:
            await self.finish(actor, text)

    async def choose(self, actor: str, rid: int, version: int, kind: str, name: str) -> None:
        reply = await self.svc.on_work_button(self.users[actor], actions.TargetChoice(rid, version, kind, name))
        reason = self.check(actor, rid, version, "transfer")
        m = self.reports.get(rid)
        if reason is None and m is not None and not self.valid_target(kind, name, m):
            reason = "bad_target"
        if reason is not None:
            self.refuse(actor, rid, "transfer", reason)
            assert reply.alert, reply
            return
        assert m is not None
        self.pending[actor] = {"report_id": rid, "version": m.version, "action": "transfer", "kind": kind,
                               "target": name}  # fmt: skip

    async def finish(self, actor: str, text: str) -> None:
        data = self.pending.get(actor)
        if data is None:
            return
        user, rid = self.users[actor], data["report_id"]
        if "photos" in data:  # resolving: the after-photo, then the note
            await self.svc.on_photo(user, AFTER)
            data["photos"] = [*data["photos"], "x"]
            action = "resolve"
        else:
            action = data["action"]
            if not text.strip():
                await self.svc.on_text(user, text)
                return  # asked again; the question stays open
        reply = await self.svc.on_text(user, text)
        assert isinstance(reply, Reply)
        del self.pending[actor]
        reason = self.check(actor, rid, data["version"], action)
        if reason is not None:
            self.refuse(actor, rid, action, reason)
            return
        m = self.reports[rid]
        if action == "resolve":
            self.changed(m, A.RESOLVE, "resolved")
            m.resolved_at = self.clock.now()
        elif action == "reject":
            self.changed(m, A.REJECT, "rejected")
        else:
            m.kind, m.assignee = data["kind"], data["target"]
            self.changed(m, A.TRANSFER, "transferred", forward=True)

    async def reporter(self, actor: str, rid: int, stars: int | None) -> None:
        user, m = self.users[actor], self.reports.get(rid)
        action = A.CONFIRM if stars is not None else A.REOPEN
        if stars is not None:
            reply = await self.svc.rate(user, actions.Rate(rid, stars))
        else:
            reply = await self.svc.reopen(user, actions.Reopen(rid))
        reason = None
        if m is None or actor not in m.followers:
            reason = "not_reporter"
        elif reference(m.status, action) is None:
            reason = "invalid"
        elif action == A.REOPEN and self.clock.now() - (m.resolved_at or self.clock.now()) > timedelta(days=7):
            reason = "too_late"
        if reason is not None:
            self.refuse(actor, rid, action.value, reason)
            assert reply.alert and reply.popup, reply
            return
        assert m is not None
        if action == A.CONFIRM:
            self.changed(m, A.CONFIRM, None)
        else:
            self.changed(m, A.REOPEN, "reopened", forward=True)
            m.resolved_at = None

    async def forge(self, actor: str, rid: int, which: int) -> None:
        m = self.reports.get(rid)
        version = m.version if m else 1
        forged = [
            f"rw:acc:{rid}:{version}\n",
            f"rw:acc:١:{version}",
            f"rc:{rid}:9",
            f"rw:zzz:{rid}:{version}",
            "x" * 65,
            f"rt:{rid}:{version}:g.{self.community}",
            f"rd:merge:{rid}",
            f"rq:{rid}",
        ][which]
        user = self.users[actor]
        payload = actions.parse(forged)
        if payload is None:  # what the Telegram door does with data it cannot read
            await self.svc.refuse(user, None, forged[:64], "malformed")
            self.refuse(actor, None, forged[:64], "malformed")
        elif isinstance(payload, actions.TargetChoice):
            await self.choose(actor, payload.report_id, payload.version, payload.kind, payload.target)
        elif isinstance(payload, actions.DraftAction):
            reply = await self.svc.on_draft_button(user, payload)
            assert reply.alert and not reply.messages, "no draft: nothing to merge"
        else:
            assert isinstance(payload, actions.ShowReport)
            reply = await self.svc.show(user, payload)
            reason = self.check(actor, rid, None, "show")
            if reason is not None:
                self.refuse(actor, rid, "show", reason)
            else:
                assert reply.messages and not reply.alert

    async def race(self, rid: int) -> None:
        """Two people tap 接单 on the same card at the same moment: one wins, the other is told it is stale."""
        m = self.reports.get(rid)
        version = m.version if m else 1
        pair = ("admin", "supervisor")
        replies = await asyncio.gather(
            *(self.svc.on_work_button(self.users[a], actions.WorkAction("accept", rid, version)) for a in pair)
        )
        assert all(isinstance(r, Reply) for r in replies)
        reasons = [self.check(a, rid, version, "accept") for a in pair]
        if reasons.count(None) == 2:  # both could: whoever the log names won
            row = await self.services.db.fetchone(
                "SELECT actor_id FROM report_events WHERE report_id = ? ORDER BY id DESC LIMIT 1", (rid,)
            )
            reasons = [None if self.uid(a) == row[0] else "stale" for a in pair]
        for actor, reason in zip(pair, reasons, strict=True):
            if reason is not None:
                self.refuse(actor, rid, "accept", reason)
        if None in reasons:
            assert m is not None
            self.changed(m, A.ACCEPT, "accepted")
            for follower in m.followers:
                if (self.uid(follower), rid) not in self.points:
                    self.points.add((self.uid(follower), rid))
                    self.keys.add(f"r{rid}:points:u{self.uid(follower)}")

    async def run(self, step: tuple[Any, ...]) -> None:
        kind, *args = step
        if kind == "submit":
            await self.submit(*args)
        elif kind == "press":
            actor, verb, index, mode, target, finish, text = args
            await self.press(actor, verb, self.pick(index), mode, target, finish, text)
        elif kind == "finish":
            await self.finish(*args)
        elif kind == "rate":
            await self.reporter(args[0], self.pick(args[1]), args[2])
        elif kind == "reopen":
            await self.reporter(args[0], self.pick(args[1]), None)
        elif kind == "forge":
            await self.forge(args[0], self.pick(args[1]), args[2])
        elif kind == "race":
            await self.race(self.pick(args[0]))
        else:
            self.clock.advance(args[0])

    # -------------------------------------------------------- what must hold after every step

    async def verify(self, before: dict[int, tuple[str, int]]) -> None:
        db = self.services.db
        rows = {r["id"]: r for r in await db.fetchall("SELECT * FROM reports")}
        assert set(rows) == set(self.reports), "no report appears or vanishes behind the model's back"
        for rid, m in self.reports.items():
            row = rows[rid]
            assert (row["status"], row["version"]) == (m.status.value, m.version), (rid, self.trace)
            assert (row["assignee_kind"], row["assignee"]) == (m.kind, m.assignee), rid
            if rid in before:
                old_status, old_version = before[rid]
                assert row["version"] >= old_version
                if row["status"] != old_status:
                    assert row["version"] > old_version, "a status change always bumps the version"
            # the audit log replays to the status
            events = await db.fetchall(
                "SELECT action, from_status, to_status, actor_id FROM report_events WHERE report_id = ? ORDER BY id",
                (rid,),
            )
            assert events[0]["action"] == "create" and events[0]["from_status"] is None
            for prev, ev in itertools.pairwise(events):
                assert ev["from_status"] == prev["to_status"], (rid, [tuple(e) for e in events])
            assert events[-1]["to_status"] == row["status"]
            # every event but a duplicate joining is a write of the status (create is version 1; a transfer of a
            # transferred report keeps the status yet is a new version)
            writes = [e for e in events if e["action"] != "join"]
            assert len(writes) == row["version"], [tuple(e) for e in events]
            assert all(e["from_status"] == e["to_status"] for e in events if e["action"] == "join")
            followers = await db.fetchall("SELECT user_id FROM report_followers WHERE report_id = ?", (rid,))
            assert {f[0] for f in followers} == {self.uid(a) for a in m.followers}
        refusals = await db.fetchall("SELECT user_id, report_id, action, reason FROM refusals")
        assert Counter(tuple(r) for r in refusals) == self.refusals, self.trace
        points = await db.fetchall("SELECT user_id, report_id, COUNT(*) AS n FROM points GROUP BY user_id, report_id")
        assert all(p["n"] == 1 for p in points), "points at most once per (user, report)"
        assert {(p["user_id"], p["report_id"]) for p in points} == self.points
        keys = {r[0] for r in await db.fetchall("SELECT idem_key FROM outbox")}
        assert self.keys <= keys, sorted(self.keys - keys)
        for rid, version in self.announced:
            assert any(k.startswith(f"r{rid}:v{version}:fwd:") for k in keys), (rid, version)
        assert not self.collisions, f"notices lost to a reused idempotency key: {self.collisions}"
        dialogs = {r["user_id"]: r for r in await db.fetchall("SELECT user_id, kind, data FROM dialogs")}
        for actor in PEOPLE:
            expected, got = self.pending.get(actor), dialogs.get(self.uid(actor))
            if expected is None:
                assert got is None, (actor, dict(got) if got else None)
            else:
                assert got is not None and got["kind"] == ("work_resolve" if "photos" in expected else "work_reason")
                assert f'"version": {expected["version"]}' in got["data"]

    async def final_checks(self) -> None:
        db = self.services.db
        assert await integrity_problems(db) == []
        workers = {self.uid(a) for a in ("worker", "other_worker", "officer", "supervisor", "admin")}
        for ev in await db.fetchall("SELECT action, actor_id FROM report_events"):
            if ev["action"] in {a.value for a in WORKER_ACTIONS}:
                assert ev["actor_id"] in workers, tuple(ev)
            elif ev["action"] in {a.value for a in REPORTER_ACTIONS} | {"create", "join"}:
                assert ev["actor_id"] == self.uid("rider"), tuple(ev)
            else:
                assert ev["action"] == "route" and ev["actor_id"] is None
        with pytest.raises(Exception, match="append-only"):
            async with db.transaction() as conn:
                await conn.execute("UPDATE report_events SET note = 'edited'")


async def open_world(directory: Path) -> World:
    clock = ManualClock(START)
    services = await open_services(
        Settings(db_path=directory / "rider.sqlite3", admins=(ADMIN_TG,), categories_toml=None), clock
    )
    users = {name: await services.users.identify("telegram", str(tg), name) for name, tg in PEOPLE.items()}
    route = services.grids.route(*HERE)
    assert route.how == "inside" and route.grid is not None
    g2 = route.grid.id
    community = services.grids.ancestors(g2)[0].id
    g1 = next(g.id for g in services.grids.children(community) if g.id != g2)
    roles = services.roles
    await roles.grant(users["worker"].id, "worker", g2, "test")
    await roles.grant(users["other_worker"].id, "worker", g1, "test")
    await roles.grant(users["supervisor"].id, "supervisor", community, "test")
    await roles.grant(users["officer"].id, "department", "zhujian", "test")
    return World(services, clock, users, g2, g1, community)


actors = st.sampled_from(
    ["worker", "worker", "worker", "admin", "admin", "supervisor", "other_worker", "officer", "rider", "stranger"]
)
index = st.sampled_from([0, 0, 0, 0, 1, 2, 3, 6])
press = st.tuples(
    st.just("press"),
    actors,
    st.sampled_from(["accept", "accept", "transfer", "reject", "resolve", "resolve", "resolve", "show"]),
    index,
    st.sampled_from(["current", "current", "current", "current", "stale", "future"]),
    st.integers(min_value=0, max_value=6),
    st.sampled_from([True, True, True, False]),
    st.sampled_from(TEXTS),
)
submit = st.tuples(st.just("submit"), st.sampled_from(CATEGORIES), st.sampled_from(["new", "merge"]))
finish = st.tuples(st.just("finish"), actors, st.sampled_from(TEXTS))
rate = st.tuples(st.just("rate"), st.sampled_from(["rider", "rider", "rider", "stranger", "worker"]), index,
                 st.integers(1, 5))  # fmt: skip
reopen = st.tuples(st.just("reopen"), st.sampled_from(["rider", "rider", "rider", "stranger", "admin"]), index)
forge = st.tuples(st.just("forge"), actors, index, st.integers(min_value=0, max_value=7))
race = st.tuples(st.just("race"), index)
tick = st.tuples(st.just("tick"), st.sampled_from(TICKS))
# Weighted: mostly people at work, so that reports travel far along their lifecycle.
steps = st.sampled_from([submit, press, press, press, press, press, finish, rate, reopen, forge, race, tick]).flatmap(
    lambda step: step
)


async def _play(directory: Path, plan: list[tuple[Any, ...]]) -> World:
    world = await open_world(directory)
    real_enqueue = service_module.enqueue

    async def recording_enqueue(conn: Any, key: str, *args: Any, **kwargs: Any) -> bool:
        added = await real_enqueue(conn, key, *args, **kwargs)
        if not added:
            world.collisions.append(key)
        return added

    try:
        with mock.patch.object(service_module, "enqueue", recording_enqueue):
            for step in [("submit", "fire_lane", "new"), *plan]:
                world.trace.append(step)
                before = {
                    r["id"]: (r["status"], r["version"])
                    for r in await world.services.db.fetchall("SELECT id, status, version FROM reports")
                }
                await world.run(step)
                await world.verify(before)
        await world.final_checks()
    finally:
        await world.services.close()
    return world


@settings(max_examples=30, deadline=None)
@given(plan=st.lists(steps, min_size=25, max_size=60))
def test_random_people_pressing_random_buttons_keep_every_invariant(plan: list[Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="report-states-") as directory:
        world = asyncio.run(_play(Path(directory), plan))
    for action in world.done:  # `--hypothesis-show-statistics` shows how far the walks got
        event(f"did {action}")
    for reason in {r[3] for r in world.refusals}:
        event(f"refused {reason}")


# ---------------------------------------------------------------- scenarios the random walk may rarely hit

WHOLE_LOOP = [
    ("press", "worker", "accept", 0, "current", 0, False, ""),
    ("press", "worker", "resolve", 0, "current", 0, True, TEXTS[0]),
    ("reopen", "rider", 0),
    ("press", "supervisor", "accept", 0, "current", 0, False, ""),
    ("press", "worker", "transfer", 0, "current", 0, True, TEXTS[0]),  # → the sibling grid
    ("press", "worker", "accept", 0, "current", 0, False, ""),  # forbidden now
    ("press", "other_worker", "accept", 0, "current", 0, False, ""),
    ("press", "other_worker", "resolve", 0, "current", 0, True, TEXTS[0]),
    ("tick", timedelta(days=8)),
    ("reopen", "rider", 0),  # too late
    ("rate", "stranger", 0, 1),
    ("rate", "rider", 0, 5),
    ("rate", "rider", 0, 4),  # confirmed is final
    ("submit", "fire_lane", "merge"),  # the first one is closed: nothing to offer
    ("submit", "fire_lane", "merge"),  # now the second one is open: merged into it
    ("submit", "lights", "new"),
    ("race", 0),  # two people accept the newest at once
    ("press", "admin", "reject", 2, "current", 0, False, ""),  # the second report
    ("finish", "admin", "  "),  # no reason given: asked again
    ("press", "worker", "accept", 2, "current", 0, False, ""),  # while admin's question is pending
    ("finish", "admin", "重复"),  # stale now
]


def test_a_scripted_walk_through_every_path(tmp_path: Path) -> None:
    world = asyncio.run(_play(tmp_path, WHOLE_LOOP))
    assert (world.uid("rider"), 1) in world.points
    reasons = {reason for (_, _, _, reason) in world.refusals}
    assert {"forbidden", "too_late", "not_reporter", "invalid", "stale"} <= reasons, world.refusals
    assert world.reports[1].status == S.CONFIRMED
    assert any(m.status == S.MERGED for m in world.reports.values())


async def test_a_forged_merge_makes_nobody_a_follower(tmp_path: Path) -> None:
    world = await open_world(tmp_path)
    try:
        await world.submit("fire_lane", "new")
        svc, stranger = world.svc, world.users["stranger"]
        # a photo only: no place, no category — a forged merge must not crash
        await svc.on_photo(stranger, BEFORE)
        reply = await svc.on_draft_button(stranger, actions.DraftAction("merge", "1"))
        assert reply.messages
        # far away and another category: never offered, so never joined
        await svc.on_location(stranger, 31.2304, 121.4737)
        await svc.on_draft_button(stranger, actions.DraftAction("cat", "dogs"))
        await svc.on_draft_button(stranger, actions.DraftAction("merge", "1"))
        followers = await world.services.db.fetchall("SELECT user_id FROM report_followers WHERE report_id = 1")
        assert [f[0] for f in followers] == [world.uid("rider")]
        # … so it cannot rate the report either
        reply = await svc.rate(stranger, actions.Rate(1, 1))
        assert reply.popup
        reasons = [r[0] for r in await world.services.db.fetchall("SELECT reason FROM refusals")]
        assert reasons.count("not_offered") == 2 and "not_reporter" in reasons
        # the rider's own nearby duplicate is still offered and joined
        await world.submit("fire_lane", "merge")
        assert world.reports[2].status == S.MERGED
    finally:
        await world.services.close()
