"""Local stand-in for the Telegram Bot API (tests, offline demo, benchmarks); see ``bot.standin.server``."""

from .server import DEMO_TOKEN, StandIn

__all__ = ["DEMO_TOKEN", "StandIn"]
