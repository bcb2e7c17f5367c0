"""Security texts (English): invite links and the admins' alert about guessed invite codes."""

from __future__ import annotations

TEXTS: dict[str, str] = {
    "invite.link": "Or send them this link; opening it joins (one use only):\n{link}",
    "security.join_burst": (
        "⚠️ Security notice: {count} wrong invite codes from {accounts} accounts in the last {minutes} minutes; "
        "someone may be guessing codes.\n"
        "To be safe, /join is paused for everyone until {until}; even correct codes wait until then.\n"
        "If colleagues are joining together, ask them to try again later and to check their codes."
    ),
}
