"""Security texts (zh-CN): invite links and the admins' alert about guessed invite codes."""

from __future__ import annotations

TEXTS: dict[str, str] = {
    "invite.link": "也可以把这个链接发给对方，点开即加入（只能用一次）：\n{link}",
    "security.join_burst": (
        "⚠️ 安全提醒：过去 {minutes} 分钟内，{accounts} 个账号共输错了 {count} 次邀请码，可能有人在猜邀请码。\n"
        "为安全起见，/join 已对所有人暂停，{until} 后恢复；期间正确的邀请码也无法使用。\n"
        "如果是同事在集中加入，请让他们稍后再试，并核对邀请码。"
    ),
}
