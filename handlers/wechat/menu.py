"""The 公众号 custom menu: three top-level buttons (WeChat allows at most three), four CLICK keys.

    附近驿站 (NEARBY_STATIONS) · 友好场所 (FRIENDLY) · 随手拍 ▸ 📸 拍照上报 (REPORT) / 我的上报 (MY_REPORTS)

A click arrives as a CLICK event with the key (handlers/wechat/conversation.py answers it). Published with
`rider-bot wechat menu` (`--dry-run` prints the JSON instead).
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.store.db import Database
from bot.texts import t
from handlers.wechat.api import WeChatApi
from handlers.wechat.conversation import FRIENDLY, MY_REPORTS, NEARBY_STATIONS, REPORT


def menu(lang: str = "zh-CN") -> dict[str, Any]:
    def click(name: str, key: str) -> dict[str, str]:
        return {"type": "click", "name": t(lang, f"wechat.menu.{name}"), "key": key}

    return {
        "button": [
            click("stations", NEARBY_STATIONS),
            click("friendly", FRIENDLY),
            {
                "name": t(lang, "wechat.menu.reports"),
                "sub_button": [click("report", REPORT), click("my_reports", MY_REPORTS)],
            },
        ]
    }


def count_buttons(body: dict[str, Any]) -> int:
    return sum(len(b.get("sub_button") or []) or 1 for b in body["button"])


async def publish_menu(settings: Settings, lang: str = "zh-CN") -> dict[str, Any]:
    """POST the menu to {api_base}/cgi-bin/menu/create, with the access token shared through the database."""
    if not settings.wechat_appid or not settings.wechat_secret:
        raise ValueError("wechat_appid and wechat_secret are required")
    body = menu(lang)
    async with Database(settings.database) as db:
        api = WeChatApi(db, base=settings.wechat_api_base, appid=settings.wechat_appid, secret=settings.wechat_secret)
        try:
            await api.menu_create(body)
        finally:
            await api.close()
    return body
