"""Charts drawn on the server as SVG: no chart library to vendor, nothing to run in the browser, and the figures
in the picture are the figures in the table next to it. Labels pass through `esc` like everything else."""

from __future__ import annotations

from handlers.console.web import esc

BAR = "#2f6fde"
LATE = "#d33"
GOOD = "#2a9d55"


def columns(values: list[tuple[str, int]], *, width: int = 640, height: int = 180, label_every: int = 5) -> str:
    """Vertical bars (reports per day): value on hover, every n-th label under the axis."""
    if not values:
        return ""
    top = max(1, max(v for _, v in values))
    step = width / len(values)
    bars = []
    for i, (label, value) in enumerate(values):
        h = (height - 30) * value / top
        x = i * step + 1
        bars.append(
            f'<rect x="{x:.1f}" y="{height - 20 - h:.1f}" width="{max(1.0, step - 2):.1f}" height="{h:.1f}"'
            f' fill="{BAR}"><title>{esc(label)}: {value}</title></rect>'
        )
        if value:
            bars.append(f'<text x="{x + step / 2 - 1:.1f}" y="{height - 23 - h:.1f}" class="v">{value}</text>')
        if i % label_every == 0:
            bars.append(f'<text x="{x:.1f}" y="{height - 5}" class="l">{esc(label[5:])}</text>')
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">'
        + "".join(bars)
        + "</svg>"
    )


def bars(rows: list[tuple[str, float, str]], *, width: int = 640, colour: str = BAR) -> str:
    """Horizontal bars: (label, fraction 0..1, value text) per row."""
    if not rows:
        return ""
    row_h, label_w = 24, 190
    height = row_h * len(rows) + 4
    parts = []
    for i, (label, fraction, text) in enumerate(rows):
        y = i * row_h + 2
        w = max(0.0, min(1.0, fraction)) * (width - label_w - 70)
        parts.append(
            f'<text x="0" y="{y + 16}" class="l">{esc(label[:18])}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}">'
            f"<title>{esc(label)}: {esc(text)}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" class="v">{esc(text)}</text>'
        )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + "</svg>"
    )
