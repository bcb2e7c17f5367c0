"""The Telegram door: registers thin handlers that turn updates into calls on the core."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from bot.keepers import actions as keeper_actions
from bot.keepers.stations import COMMANDS as STATION_COMMANDS
from handlers.telegram import fallback, finder, guard, keepers, menus, people, reports, search, senderless, start

COMMANDS = ("start", "report", "myreports", "points", "queue", "lang", "help")


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, senderless.drop_senderless), group=-2)
    application.add_handler(TypeHandler(Update, guard.guard), group=-1)
    application.add_handler(CommandHandler("start", start.start, filters=private))
    application.add_handler(CommandHandler("help", start.help_command, filters=private))
    application.add_handler(CommandHandler("lang", start.switch_lang, filters=private))
    application.add_handler(CommandHandler("join", people.join, filters=private))
    application.add_handler(CommandHandler("whoami", people.whoami, filters=private))
    application.add_handler(CommandHandler("console", people.console, filters=private))
    application.add_handler(CommandHandler("report", reports.start_report, filters=private))
    application.add_handler(CommandHandler("cancel", reports.cancel, filters=private))
    application.add_handler(CommandHandler("myreports", reports.my_reports, filters=private))
    application.add_handler(CommandHandler("queue", reports.queue, filters=private))
    application.add_handler(CommandHandler("stats", reports.stats, filters=private))
    application.add_handler(CommandHandler("overdue", reports.overdue, filters=private))
    for name, handler in reports.moderation.items():
        application.add_handler(CommandHandler(name, handler, filters=private))
    for name in STATION_COMMANDS:  # keepers' commands, /redeem, /points, /suggest (bot/keepers/stations.py)
        application.add_handler(CommandHandler(name, keepers.command(name), filters=private))
    application.add_handler(CommandHandler(list(COMMANDS), start.group_hint, filters=filters.ChatType.GROUPS))
    application.add_handler(
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.LOCATION & private, finder.on_live_update)
    )
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.LOCATION & private, finder.on_location))
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & private, search.on_text)
    )
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & private & (filters.PHOTO | filters.Document.IMAGE), reports.on_photo
        )
    )
    application.add_handler(CallbackQueryHandler(reports.on_report_button, pattern=r"^r[a-z]:"))
    application.add_handler(CallbackQueryHandler(keepers.on_button, pattern=keeper_actions.PREFIX))
    application.add_handler(CallbackQueryHandler(finder.on_callback))
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & private & ~filters.TEXT & ~filters.LOCATION, fallback.on_unsupported
        )
    )
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND & private, start.help_command))
    application.add_error_handler(fallback.on_error)


async def publish_commands(application: Application) -> None:
    """The command menus: riders' by default (per client language), each person with a duty their own."""
    await menus.publish_defaults(application)
