"""/join CODE and /whoami: how a grid worker, supervisor, department contact or admin joins, and checks it."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.ext import ContextTypes

from bot.console.auth import SignInError
from bot.people.invites import FAILURE_WINDOW, InviteError
from bot.texts import t
from handlers.telegram import menus
from handlers.telegram.common import who


async def join(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Redeem an invite; every refusal gets its own polite text, because "expired" and "used" need a new code
    from the admin while "invalid" only needs a second look at what was typed."""
    w = await who(update, context)
    message = update.effective_message
    # Phones split "K7P2 9XQM" into two arguments; the core ignores spaces, so join them back.
    code = " ".join(context.args or [])
    if not code.strip():
        await message.reply_text(t(w.lang, "join.usage"))
        return
    try:
        role = await w.services.roles.invites.redeem(w.user, code)
    except InviteError as exc:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        await message.reply_text(t(w.lang, f"join.{exc.code}", minutes=minutes))
        return
    await menus.publish_for(context.bot, w.services, w.user)  # the menu is ready when they read the answer
    await message.reply_text(t(w.lang, "join.ok", role=await w.services.roles.describe(role, w.lang)))


async def whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the user's roles in words (everyone is a rider; roles are extra duties)."""
    w = await who(update, context)
    roles = await w.services.roles.roles_of(w.user)
    if not roles:
        await update.effective_message.reply_text(t(w.lang, "role.whoami_rider"))
        return
    lines = [t(w.lang, "role.whoami_line", role=await w.services.roles.describe(r, w.lang)) for r in roles]
    await update.effective_message.reply_text(t(w.lang, "role.whoami", lines="\n".join(lines)))


async def console(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A one-time sign-in link to the web console, for supervisors, departments and admins (no preview: a
    preview fetch must not be the one that opens the link)."""
    w = await who(update, context)
    message = update.effective_message
    if not w.services.console.base_url:
        await message.reply_text(t(w.lang, "console.not_configured"))
        return
    try:
        url = await w.services.console.link_for(w.user)
    except SignInError as exc:
        await message.reply_text(t(w.lang, f"console.{exc.code}"))
        return
    # Telegram refuses buttons to plain-HTTP or private addresses (the whole message would fail): the button
    # only for a public https:// console (or the offline demo's stand-in); the link is in the text either way.
    button = None
    if url.startswith("https://") or w.services.settings.offline_demo:
        button = InlineKeyboardMarkup([[InlineKeyboardButton(t(w.lang, "console.link_button"), url=url)]])
    await message.reply_text(
        t(w.lang, "console.link", url=url),
        reply_markup=button,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
