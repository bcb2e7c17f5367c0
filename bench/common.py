"""Small shared pieces: percentiles, resident memory, and the result record every benchmark returns."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Current resident set size (not the peak): deltas around a build measure what the build kept."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * _PAGE


def log_details(lines: Sequence[str]) -> list[str]:
    """A run's log as a folded block at the end of its section: the figures' source, out of the reader's way."""
    return ["<details><summary>This run's log</summary>", "", "```text", *lines, "```", "", "</details>"]


def pct(values: Sequence[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


@dataclass
class Figure:
    """One row of the results table: a measured figure against its baseline from the same run."""

    name: str
    value: str  # the measured figure, formatted
    baseline: str  # the baseline, formatted
    ratio: float | None  # how the figure compares with its baseline (the direction is in `ratio_note`)
    ratio_note: str
    target: str
    met: bool | None  # None: informational, no target
    notes: list[str] = field(default_factory=list)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def dur(seconds: float) -> str:
    """µs, ms or s, whichever reads best."""
    if seconds < 1e-3:
        return us(seconds)
    return ms(seconds) if seconds < 1.0 else f"{seconds:,.2f} s"


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"
