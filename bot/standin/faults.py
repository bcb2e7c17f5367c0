"""Fault injection for the stand-in's send*/edit* methods (off by default)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

__all__ = ["FAULT_KINDS", "Faults"]

FAULT_KINDS = ("429", "5xx", "drop")


@dataclass
class Faults:
    """Set ``fail_rate`` (0..1) and ``kinds`` to make send*/edit* calls fail at random (seeded ``rng``),
    or queue exact faults with :meth:`fail_next`.

    - ``"429"``: HTTP 429 ``Too Many Requests: retry after N`` with ``parameters.retry_after = N``; not acted.
    - ``"5xx"``: HTTP 502 Bad Gateway; not acted.
    - ``"drop"``: the connection is closed without any response, after acting (``drop_when="after"``,
      the message IS sent) or before (``drop_when="before"``, nothing happens).
    """

    fail_rate: float = 0.0
    kinds: tuple[str, ...] = ("429",)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    retry_after: int = 3
    drop_when: str = "after"
    methods: frozenset[str] | None = None  # lower-case method names; None = every send*/edit* method
    injected: list[dict] = field(default_factory=list)  # log: {"method", "kind"}
    #: Seconds every file download (getFile's file_path) takes before it starts: a slow network or a big photo.
    download_delay: float = 0.0
    _forced: deque[str] = field(default_factory=deque, repr=False)

    def fail_next(self, kind: str = "429", n: int = 1) -> None:
        """Make the next ``n`` eligible calls fail with ``kind`` regardless of ``fail_rate``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        self._forced.extend([kind] * n)

    def reset(self) -> None:
        self.fail_rate = 0.0
        self._forced.clear()

    def applies_to(self, method: str) -> bool:
        name = method.lower()
        if self.methods is not None:
            return name in self.methods
        return name.startswith(("send", "edit"))

    def pick(self, method: str) -> str | None:
        """The fault to apply to this call, or None."""
        if not self.applies_to(method):
            return None
        kind: str | None = None
        if self._forced:
            kind = self._forced.popleft()
        elif self.fail_rate > 0 and self.kinds and self.rng.random() < self.fail_rate:
            kind = self.rng.choice(list(self.kinds))
        if kind is not None:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
            self.injected.append({"method": method, "kind": kind})
        return kind
