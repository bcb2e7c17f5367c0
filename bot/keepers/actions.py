"""Button payloads of the keepers' and points' buttons: `k<letter>:<arg>:<id>`, at most 64 bytes, trusted for
nothing (the services check who pressed and what the button names).

  ks:<status>:<place>   keeper sets today's status          kc:-:<place>    keeper confirms the data as it is
  kp:-:<place>          keeper will send an entrance photo   kf:-:<place>    rider: ⚠️ 信息有误 (pick a reason)
  kr:<reason>:<place>   rider's reason                       ky:-:<flag> / kn:-:<flag>  keeper: right / wrong
  kg:<kind>:-           suggestion's kind                    ka:-:<sugg> / kd:-:<sugg>  admin: approve / decline
  kw:-:<reward>         rider redeems a reward               kx:-:-          skip the optional question
"""

from __future__ import annotations

from dataclasses import dataclass

_LETTERS = frozenset("scpfrynkgadwx")
PREFIX = r"^k[a-z]:"


@dataclass(frozen=True)
class KeeperAction:
    letter: str
    arg: str
    target: str


def fits(letter: str, arg: str, target: str) -> bool:
    """Whether the payload stays within 64 bytes (place ids may be up to 60 characters: the longest get none)."""
    return len(f"k{letter}:{arg or '-'}:{target or '-'}".encode()) <= 64


def make(letter: str, arg: str, target: str) -> str:
    data = f"k{letter}:{arg or '-'}:{target or '-'}"
    if letter not in _LETTERS or len(data.encode()) > 64:
        raise ValueError(f"bad keeper action {data!r}")
    return data


def parse(data: str | None) -> KeeperAction | None:
    if not data or len(data.encode()) > 64 or not data.startswith("k"):
        return None
    parts = data.split(":")
    if len(parts) != 3 or len(parts[0]) != 2 or parts[0][1] not in _LETTERS or not parts[2]:
        return None
    return KeeperAction(parts[0][1], parts[1], parts[2])
