"""Turns one run's results into docs/PERFORMANCE.md (the table, the analysis, the run's log) and the plots."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from bench import analysis
from bench.common import Figure, dur, log_details, mib, ms, us
from bench.console import ConsoleResult
from bench.e2e import LoadResult
from bench.forwarding import CaseResult
from bench.intake import IntakeResult
from bench.nearest import SizeResult
from bench.startup import StartResult

TELEGRAM_OVERALL = 30.0  # messages/s a bot may send overall
MSGS_PER_REPORT = 2  # the card and the map pin


@dataclass
class Results:
    mode: str
    nearest: list[SizeResult] = field(default_factory=list)
    e2e: list[tuple[LoadResult, LoadResult]] = field(default_factory=list)
    intake: IntakeResult | None = None
    forwarding: list[CaseResult] = field(default_factory=list)
    startup: tuple[StartResult, StartResult, StartResult] | None = None
    console: ConsoleResult | None = None
    log: list[str] = field(default_factory=list)


def _yes(ok: bool | None) -> str:
    return "—" if ok is None else ("✅ yes" if ok else "❌ no")


def _x(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "—"
    return f"{r:,.0f}×" if r >= 100 else f"{r:,.2f}×"


def nearest_figures(rows: list[SizeResult]) -> list[Figure]:
    out = []
    for r in rows:
        for mode, label in (("all", "all places"), ("filtered", "stations with charging")):
            ratio = r.geopy_per_query[mode] / r.p50[mode]
            target, met = "", None
            if r.n == 100_000:
                target, met = "p50 ≤ 50 µs and ≥ 10 000× brute force", r.p50[mode] <= 50e-6 and ratio >= 10_000
            elif r.n == 1_000_000:
                target, met = "p50 ≤ 100 µs", r.p50[mode] <= 100e-6
            out.append(
                Figure(
                    f"nearest-5, {r.n:,} places, {label}",
                    f"p50 {us(r.p50[mode])}, p99 {us(r.p99[mode])}",
                    f"geopy scan {dur(r.geopy_per_query[mode])}/query (mean of {r.geopy_samples[mode]});"
                    f" numpy scan {dur(r.numpy_per_query[mode])}",
                    ratio,
                    f"brute force ÷ index p50 (numpy scan: {_x(r.numpy_per_query[mode] / r.p50[mode])})",
                    target,
                    met,
                )
            )
    if rows:
        identical = all(all(r.identical.values()) for r in rows)
        worst = max(max(r.max_metres_diff.values()) for r in rows)
        out.append(
            Figure(
                "nearest-5 answers = brute force",
                f"{'identical' if identical else 'DIFFERENT'} ids and order on every sampled query;"
                f" metres differ by ≤ {worst:.1e} m",
                "geopy great_circle scan, numpy scan",
                None,
                "",
                "identical results",
                identical,
            )
        )
        big = rows[-1]
        raw = 16 * big.n  # two float64 per place: what a scan needs
        out.append(
            Figure(
                f"index build and memory, {big.n:,} places",
                f"index {ms(big.build_index_s)}, {mib(big.index_bytes)}; catalogue {ms(big.build_catalog_s)}"
                f" + filter {ms(big.build_filter_s)}, {mib(big.catalog_bytes)}",
                f"raw lat/lon arrays {mib(raw)}; Place objects {mib(big.places_bytes)}",
                big.index_bytes / raw,
                "index memory ÷ raw coordinates",
                "",
                None,
            )
        )
    return out


def e2e_figures(pairs: list[tuple[LoadResult, LoadResult]]) -> list[Figure]:
    out = []
    for echo, real in pairs:
        ratio = real.per_s / echo.per_s if echo.per_s else float("nan")
        target, met = "", None
        if echo.name == "capacity":
            target, met = "≥ 0.7× echo throughput", ratio >= 0.7
        out.append(
            Figure(
                f"location → nearest list, end to end ({echo.name})",
                f"{real.per_s:,.0f} answers/s, p50 {ms(real.p50_s)}, p99 {ms(real.p99_s)}",
                f"PTB echo bot {echo.per_s:,.0f}/s, p50 {ms(echo.p50_s)}, p99 {ms(echo.p99_s)}",
                ratio,
                "throughput ÷ echo's",
                target,
                met,
            )
        )
    return out


def intake_figures(r: IntakeResult | None) -> list[Figure]:
    if r is None:
        return []
    ratio = r.submit_per_s / r.bare_per_s
    return [
        Figure(
            "随手拍 submit (report + outbox rows committed before the ack)",
            f"{r.submit_per_s:,.0f} reports/s (p50 {ms(r.submit_p50_s)}, p99 {ms(r.submit_p99_s)})",
            f"bare aiosqlite: {r.bare_per_s:,.0f}/s (1 report + 1 outbox row); {r.bare_same_rows_per_s:,.0f}/s"
            f" (the same {sum(r.rows_per_report.values()):.0f} rows the service writes)",
            ratio,
            f"÷ bare 1+1 rows (÷ same rows: {_x(r.submit_per_s / r.bare_same_rows_per_s)})",
            "≥ 0.5× and ≥ 300 reports/s",
            ratio >= 0.5 and r.submit_per_s >= 300 and r.committed_before_ack,
        ),
        Figure(
            "随手拍 whole dialog (photo → place → category → words → submit)",
            f"{r.dialog_per_s:,.0f} reports/s (p50 {ms(r.dialog_p50_s)})",
            f"bare aiosqlite {r.bare_per_s:,.0f}/s",
            r.dialog_per_s / r.bare_per_s,
            "÷ bare 1+1 rows",
            "",
            None,
        ),
    ]


def floor_p95(case: CaseResult, rate: float, one_grid: bool) -> float:
    """The smallest p95 Telegram's limits allow for this burst: report i arrives at i/rate and its first message
    cannot leave before the 2·i messages ahead of it (overall 30/s, or 1/s in one chat)."""
    capacity = 1.0 if one_grid else TELEGRAM_OVERALL
    i95 = int(0.95 * case.submitted)
    return max(0.0, i95 * MSGS_PER_REPORT / capacity - i95 / rate)


def forwarding_figures(cases: list[CaseResult]) -> list[Figure]:
    out = []
    for c in cases:
        one_grid = "one grid" in c.name
        rate = float(c.name.split("/")[0])
        floor = floor_p95(c, rate, one_grid)
        within = c.max_msgs_any_second <= TELEGRAM_OVERALL and c.min_gap_same_chat_s >= 0.95
        if c.drained:
            value = f"p95 {c.p95_s:,.2f} s, p50 {c.p50_s:,.2f} s ({c.submitted} reports)"
            ratio = c.p95_s / floor if floor > 0.5 else None
        else:
            value = (
                f"{c.delivered}/{c.submitted} delivered in the watch; projected p95 ≈ {c.projected_p95_s:,.0f} s"
                f" (busiest chat {c.per_chat_rate:.2f} msgs/s)"
            )
            ratio = (c.projected_p95_s or 0) / floor if floor > 0.5 else None
        out.append(
            Figure(
                f"forwarding, {c.name}",
                value + f"; ≤ {c.max_msgs_any_second} msgs/s overall, same-chat gap ≥ {c.min_gap_same_chat_s:.2f} s",
                f"floor set by Telegram's limits: p95 ≥ {floor:,.1f} s",
                ratio,
                "p95 ÷ floor" if ratio is not None else "",
                "within Telegram's limits (≤ 30/s, ≥ 1 s per chat)",
                within,
            )
        )
    return out


def startup_figures(runs: tuple[StartResult, StartResult, StartResult] | None) -> list[Figure]:
    if runs is None:
        return []
    base, mid, big = runs
    return [
        Figure(
            f"start-up, {mid.stations:,} stations, no reports ({mib(mid.db_bytes)} database)",
            f"Runtime.start {mid.start_s:.2f} s; RSS {mib(mid.rss_bytes)} (peak {mib(mid.peak_rss_bytes)})",
            f"sample data: Runtime.start {base.start_s:.2f} s; RSS {mib(base.rss_bytes)}",
            mid.start_s / base.start_s,
            f"start time ÷ sample's (RSS ÷: {_x(mid.rss_bytes / base.rss_bytes)})",
            "",
            None,
        ),
        Figure(
            f"start-up, {big.stations:,} stations + {big.reports:,} reports ({mib(big.db_bytes)} database)",
            f"Runtime.start {big.start_s:.2f} s (imports {big.import_s:.2f} s); RSS {mib(big.rss_bytes)}"
            f" (peak {mib(big.peak_rss_bytes)})",
            f"sample data: Runtime.start {base.start_s:.2f} s; RSS {mib(base.rss_bytes)}",
            big.start_s / base.start_s,
            f"start time ÷ sample's (RSS ÷: {_x(big.rss_bytes / base.rss_bytes)})",
            "",
            None,
        ),
    ]


def console_figures(r: ConsoleResult | None) -> list[Figure]:
    if r is None:
        return []
    rows = []
    for v in r.views:
        rows.append(
            Figure(
                f"console map viewport, {v.view} view, {v.who}, {r.reports:,} reports",
                f"p95 {ms(v.p95_s)} (p50 {ms(v.p50_s)}; {v.items:,} {v.answered})",
                f"full-table read {ms(r.full_read_s)}",
                v.p95_s / r.full_read_s,
                "p95 ÷ full read",
                "≤ 200 ms p95",
                v.p95_s <= 0.2,
            )
        )
    rows.append(
        Figure(
            f"console map, first read into memory, {r.reports:,} reports",
            f"{dur(r.cold_load_s)} once per process (SQL for one country view: {ms(r.sql_country_s)})",
            f"full-table read {ms(r.full_read_s)}",
            r.cold_load_s / r.full_read_s,
            "÷ full read",
            "",
            None,
        )
    )
    return rows


def figures(results: Results) -> list[Figure]:
    return [
        *nearest_figures(results.nearest),
        *e2e_figures(results.e2e),
        *intake_figures(results.intake),
        *forwarding_figures(results.forwarding),
        *startup_figures(results.startup),
        *console_figures(results.console),
    ]


def table(rows: list[Figure]) -> str:
    out = ["| figure | measured | baseline (same run) | ratio | target | met? |", "|---|---|---|---|---|---|"]
    for f in rows:
        ratio = _x(f.ratio) + (f" ({f.ratio_note})" if f.ratio_note and f.ratio is not None else "")
        out.append(f"| {f.name} | {f.value} | {f.baseline} | {ratio} | {f.target or '—'} | {_yes(f.met)} |")
    return "\n".join(out)


def plot(rows: list[SizeResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r.n for r in rows]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    series = [
        ("index p50, all", [r.p50["all"] for r in rows], "o-", "tab:blue"),
        ("index p99, all", [r.p99["all"] for r in rows], "o--", "tab:blue"),
        ("index p50, charging filter", [r.p50["filtered"] for r in rows], "s-", "tab:green"),
        ("geopy scan, all (sampled mean)", [r.geopy_per_query["all"] for r in rows], "^-", "tab:red"),
        ("geopy scan, charging (sampled mean)", [r.geopy_per_query["filtered"] for r in rows], "^--", "tab:red"),
        ("numpy scan, all (median)", [r.numpy_per_query["all"] for r in rows], "v-", "tab:orange"),
    ]
    for label, ys, style, colour in series:
        ax.plot(n, [y * 1e6 for y in ys], style, color=colour, label=label)
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.axhline(100, color="grey", lw=0.8, ls=":")
    ax.text(n[-1], 35, "50 µs (100k target)", color="grey", fontsize=8, ha="right", va="top")
    ax.text(n[-1], 110, "100 µs (1M target)", color="grey", fontsize=8, ha="right", va="bottom")
    ax.set(xscale="log", yscale="log", xlabel="places", ylabel="µs per nearest-5 query",
           title="Query cost against size (log-log)")  # fmt: skip
    ax.legend(fontsize=8, loc="center left")
    ax.grid(True, which="both", alpha=0.3)
    ax2.plot(n, [r.build_index_s * 1e3 for r in rows], "o-", label="SpatialIndex build (ms)")
    ax2.plot(n, [r.build_catalog_s * 1e3 for r in rows], "s-", label="PlaceCatalog build (ms)")
    ax2.plot(n, [r.index_bytes / 2**20 for r in rows], "d--", label="index memory (MiB)")
    ax2.plot(n, [r.catalog_bytes / 2**20 for r in rows], "x--", label="catalogue memory (MiB)")
    ax2.set(xscale="log", yscale="log", xlabel="places", title="Build time and memory against size (log-log)")
    ax2.legend(fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_BEGIN, _END = "<!-- results:{mode} -->", "<!-- /results:{mode} -->"


def _block(results: Results, rows: list[Figure], plot_name: str | None) -> str:
    title = "Full run (`python -m bench`)" if results.mode == "full" else "Quick run (`python -m bench --quick`)"
    parts = [_BEGIN.format(mode=results.mode), f"### {title}", "", table(rows), ""]
    if plot_name:
        parts += [f"![nearest-k cost against size, {results.mode} run]({plot_name})", ""]
    parts += log_details(results.log)
    parts.append(_END.format(mode=results.mode))
    return "\n".join(parts)


def _previous_block(path: Path, mode: str) -> str:
    """The other mode's results from the file as it was: a quick run does not erase the last full run."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    begin, end = _BEGIN.format(mode=mode), _END.format(mode=mode)
    if begin not in text or end not in text:
        return ""
    return text[text.index(begin) : text.index(end) + len(end)]


def write(results: Results, out_dir: Path) -> None:
    rows = figures(results)
    plot_name = None
    if results.nearest:
        plot_name = "perf_nearest.png" if results.mode == "full" else "perf_nearest_quick.png"
        plot(results.nearest, out_dir / plot_name)
    path = out_dir / "PERFORMANCE.md"
    other = "quick" if results.mode == "full" else "full"
    blocks = {results.mode: _block(results, rows, plot_name), other: _previous_block(path, other)}
    from bench import scaleout_report, storage_report  # they import this module

    scaleout = f"{scaleout_report.HEADING}\n\n{scaleout_report.INTRO}\n{scaleout_report.current(path)}\n"
    storage = storage_report.current(path)  # section 8, `python -m bench.storage`'s: kept as it is
    if storage:
        scaleout += f"\n{storage}\n"
    text = analysis.document(results, "\n\n".join(b for b in (blocks["full"], blocks["quick"]) if b), scaleout)
    path.write_text(text, encoding="utf-8")
