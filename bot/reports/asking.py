"""The draft's category questions: asked as buttons after the category (any order, like the rest of the draft),
answered by a tap or, for numbers and words, by typing; what an answer's rule says to the rider is said at once.

The definitions and every check live in `bot/reports/questions.py`; this mixin only keeps the answers in the
draft (``answers``: code → canonical value, ``skipped``: optional questions passed over, ``picking``: a multiple
choice being ticked) and decides what to ask next. Button payloads name a question and a value and are trusted
for nothing: both are checked against the draft's category every time.
"""

from __future__ import annotations

from typing import Any

from bot.outbox import messages as out
from bot.reports import actions
from bot.reports.common import Reply
from bot.reports.questions import AnswerError, Outcome, Question, Questionnaire, normalise
from bot.reports.routing import Assignment, assign
from bot.store.users import User
from bot.texts import t

SKIP, DONE = "_skip", "_done"


class AskingMixin:
    """The questions part of ReportService's drafting (needs `self.questions`, `_save_draft`, `_next`)."""

    questions: Questionnaire  # the rest (policy, grids, _next, _save_draft) comes from ReportService

    def _category_questions(self, draft: dict[str, Any]) -> tuple[Question, ...]:
        return self.questions.for_category(draft.get("category") or "")

    def _assignment(self, category: str, lat: float, lon: float, answers: dict[str, str]) -> tuple[Assignment, Outcome]:
        """Where a new report goes, and what its answers change: a rule's department wins over the grid (a
        person trapped in a lift goes to the department at once, not into the grid's queue)."""
        rules = self.questions.outcome(category, answers)
        policy = self.policy
        assignment = assign(self.grids, category, lat, lon, policy.category_routes, policy.grid_max_distance_m)
        if rules.department:
            assignment = Assignment("department", rules.department, assignment.grid_id, "rule")
        return assignment, rules

    def _pending_question(self, draft: dict[str, Any]) -> Question | None:
        answers, skipped = draft.get("answers", {}), draft.get("skipped", [])
        for q in self._category_questions(draft):
            if q.code not in answers and q.code not in skipped:
                return q
        return None

    def _draft_answers(self, draft: dict[str, Any]) -> dict[str, str]:
        """The answers that belong to the draft's category now (the rider may have changed the category)."""
        answers = draft.get("answers", {})
        return {q.code: answers[q.code] for q in self._category_questions(draft) if q.code in answers}

    def _answer_lines(self, lang: str, draft: dict[str, Any]) -> list[str]:
        return self.questions.lines(lang, draft.get("category") or "", self._draft_answers(draft).items())

    def _ask(self, user: User, draft: dict[str, Any], q: Question) -> Reply:
        lang = user.lang
        asked = self._category_questions(draft)
        head = t(lang, "ask.question", n=asked.index(q) + 1, total=len(asked), question=q.label(lang))
        rows: out.Buttons = []
        if q.type == "multi":
            picked = set(self._picked(draft, q.code))
            rows += [
                [out.button(t(lang, "ask.ticked" if v.key in picked else "ask.unticked", label=v.label(lang)),
                            actions.answer(q.code, v.key, tick=v.key not in picked))]
                for v in q.choices()
            ]  # fmt: skip
            rows.append([out.button(t(lang, "ask.done"), actions.answer(q.code, DONE))])
            head += "\n" + t(lang, "ask.multi_hint")
        elif q.choices():
            labels = [out.button(v.label(lang), actions.answer(q.code, v.key)) for v in q.choices()]
            rows += [labels[i : i + 2] for i in range(0, len(labels), 2)]
        elif q.type == "number":
            if q.suggest:
                rows.append([out.button(s, actions.answer(q.code, s)) for s in q.suggest])
            head += "\n" + t(lang, "ask.number_hint")
        else:
            head += "\n" + t(lang, "ask.text_hint", max=q.max_length)
        head += "\n" + t(lang, "ask.required" if q.required else "ask.optional")
        if not q.required:
            rows.append([out.button(t(lang, "draft.skip"), actions.answer(q.code, SKIP))])
        rows.append([out.button(t(lang, "draft.cancel"), actions.draft("x"))])
        return Reply([out.text(head, rows)])

    @staticmethod
    def _picked(draft: dict[str, Any], code: str) -> list[str]:
        """A multiple choice's ticks: those being made, else the answer given (the keyboard it was given on)."""
        picking = draft.get("picking", {}).get(code)
        if picking is not None:
            return picking
        answered = draft.get("answers", {}).get(code)
        return answered.split(",") if answered else []

    async def _on_answer(self, user: User, draft: dict[str, Any], arg: str) -> Reply:
        """A tapped answer (or skip / done / a tick on a multiple choice)."""
        code, _, value = arg.partition(":")
        value, _, tick = value.partition(":")
        q = next((q for q in self._category_questions(draft) if q.code == code), None)
        if q is None:  # a button of another category's question, or forged
            return await self._next(user, draft)
        if value == SKIP:
            if q.required:
                return Reply([out.text(t(user.lang, "ask.cannot_skip"))], alert=t(user.lang, "ask.cannot_skip"))
            skipped = draft.setdefault("skipped", [])
            if code not in skipped:  # skipped twice (a double tap, a re-run) is skipped once
                skipped.append(code)
            draft.get("answers", {}).pop(code, None)
            await self._save_draft(user, draft)
            return await self._next(user, draft)
        if q.type == "multi":
            answered = draft.get("answers", {}).get(code)
            if value == DONE and answered is not None and code not in draft.get("picking", {}):
                # Done again (a double tap, or the update re-run after a kill): the answer stands, asked on.
                return await self._take_answer(user, draft, q, answered)
            picking = draft.setdefault("picking", {}).setdefault(code, self._picked(draft, code))
            if value != DONE:
                if value not in {v.key for v in q.values}:
                    return await self._next(user, draft)
                # The state the button carries; a button without one (sent before ticks carried it) toggles.
                wanted = value not in picking if tick == "" else tick == "1"
                if wanted and value not in picking:
                    picking.append(value)
                elif not wanted and value in picking:
                    picking.remove(value)
                draft.get("answers", {}).pop(code, None)
                await self._save_draft(user, draft)
                return self._ask(user, draft, q)
            if not picking:
                return Reply([out.text(t(user.lang, "ask.pick_one"))], alert=t(user.lang, "ask.pick_one"))
            value = ",".join(picking)
        return await self._take_answer(user, draft, q, value)

    async def _answer_typed(self, user: User, draft: dict[str, Any], text: str) -> Reply | None:
        """Typed text while a question waits: the answer to a number or words question (or a choice typed by
        its label); None when the text is not for the question (then it is the draft's words)."""
        q = self._pending_question(draft)
        if q is None:
            return None
        if q.choices():
            typed = " ".join(text.split()).casefold()
            match = next((v.key for v in q.choices() if typed in (v.zh.casefold(), v.en.casefold(), v.key)), None)
            if match is None:
                return self._ask(user, draft, q)
            text = match
        return await self._take_answer(user, draft, q, text)

    async def _take_answer(self, user: User, draft: dict[str, Any], q: Question, raw: str) -> Reply:
        lang = user.lang
        try:
            value = normalise(q, raw)
        except AnswerError as exc:
            key = {"not_a_number": "ask.not_a_number", "out_of_range": "ask.out_of_range",
                   "too_long": "ask.too_long"}.get(exc.code, "ask.unknown_value")  # fmt: skip
            low = f"{q.low:g}" if q.low is not None else ""
            high = f"{q.high:g}" if q.high is not None else ""
            reply = self._ask(user, draft, q)
            reply.messages.insert(0, out.text(t(lang, key, min=low, max=high, limit=q.max_length)))
            return reply
        draft.setdefault("answers", {})[q.code] = value
        if q.code in draft.get("skipped", []):
            draft["skipped"].remove(q.code)
        draft.get("picking", {}).pop(q.code, None)
        await self._save_draft(user, draft)
        # A rule's words for the rider (e.g. "call 119 now") come at once, not after the report is sent.
        tells = self.questions.outcome(draft["category"], {q.code: value}).tell(lang)
        reply: Reply = await self._next(user, draft)
        reply.messages[:0] = [out.text(text) for text in tells]
        return reply
