"""Inline SVG charts for the contract report, written by hand.

Hand-written SVG, not a plotting library: the report needs two kinds of
chart (stacked bars and lines), and a few hundred lines of plain SVG give
them with no dependency, byte-identical output for the same figures, text
that stays text (searchable, selectable, sharp when printed) and no script.

Accessibility: the colours are the Okabe–Ito palette, which stays
distinguishable under the common colour-vision deficiencies; series past the
eighth, and every line, also differ by pattern or dash, so no figure depends
on colour alone.  Every chart has a ``<title>``, a ``<desc>`` and labelled
axes with units; the tables next to each chart carry the same figures.

Coordinates are floats: they place ink on a page and never feed a figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from math import ceil, floor, log10

#: Okabe–Ito: distinguishable with deuteranopia, protanopia and tritanopia
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")

WIDTH, HEIGHT = 900.0, 340.0
LEFT, RIGHT, TOP, BOTTOM = 90.0, 200.0, 36.0, 70.0


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** floor(log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _tick_label(value: float) -> str:
    """Axis numbers with thousands separators; whole numbers without decimals."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def _fill(i: int) -> str:
    """Fill of the i-th series: a palette colour, striped from the ninth series on."""
    if i < len(PALETTE):
        return PALETTE[i]
    return f"url(#stripe{i % len(PALETTE)})"


def _defs() -> str:
    """Stripe patterns for series beyond the palette: the same colours, told apart by texture."""
    parts = []
    for i, colour in enumerate(PALETTE):
        parts.append(
            f'<pattern id="stripe{i}" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
            f'<rect width="3" height="6" fill="{colour}"/></pattern>'
        )
    return "<defs>" + "".join(parts) + "</defs>"


def _frame(chart_id: str, title: str, desc: str, body: list[str]) -> str:
    """The ``<svg>`` element around a chart's body, with its accessible title and description."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" width="{WIDTH:.0f}" height="{HEIGHT:.0f}" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title><desc id="{escape(chart_id)}-d">{escape(desc)}</desc>'
        + _defs()
        + f'<rect width="{WIDTH:.0f}" height="{HEIGHT:.0f}" fill="#ffffff"/>'
        + f'<text x="{LEFT:.0f}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _axes(categories: Sequence[str], top: float, x_label: str, y_label: str, percent: bool = False) -> list[str]:
    """Axes, gridlines, tick labels and axis titles; ``top`` is the value at the top of the plot."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = []
    for k in range(5):
        value = top * k / 4
        y = TOP + plot_h - plot_h * k / 4
        out.append(f'<line x1="{LEFT:.1f}" y1="{y:.1f}" x2="{LEFT + plot_w:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>')
        label = _tick_label(value) + ("%" if percent else "")
        out.append(f'<text x="{LEFT - 6:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>')
    out.append(f'<line x1="{LEFT:.1f}" y1="{TOP:.1f}" x2="{LEFT:.1f}" y2="{TOP + plot_h:.1f}" stroke="#000"/>')
    out.append(f'<line x1="{LEFT:.1f}" y1="{TOP + plot_h:.1f}" x2="{LEFT + plot_w:.1f}" y2="{TOP + plot_h:.1f}" stroke="#000"/>')
    n = max(len(categories), 1)
    for i in _label_positions(len(categories), plot_w):
        cat = categories[i]
        x = LEFT + plot_w * (i + 0.5) / n
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16:.1f}" font-size="11" text-anchor="middle">{escape(cat)}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 28:.1f}" font-size="12" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    out.append(f'<text transform="translate(18,{TOP + plot_h / 2:.1f}) rotate(-90)" font-size="12" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    return out


def _label_positions(n: int, plot_w: float, label_w: float = 56.0) -> list[int]:
    """Which categories get an axis label: at most a dozen, evenly spaced, always the last, never overlapping.

    The last quarter is the one a reader looks for, so it is always
    labelled; when it falls too close to the evenly spaced label before it,
    that label gives way rather than the two printing over each other.
    """
    if n <= 0:
        return []
    every = max(1, ceil(n / 12))
    picks = list(range(0, n, every))
    if picks[-1] != n - 1:
        if (n - 1 - picks[-1]) * plot_w / n < label_w and len(picks) > 1:
            picks.pop()
        picks.append(n - 1)
    return picks


def _legend(labels: Sequence[str], kinds: Sequence[str]) -> list[str]:
    """Legend at the right: a swatch (bar series) or a dashed stroke (line series) per label."""
    out = []
    x = WIDTH - RIGHT + 14
    rows = max(1, int((HEIGHT - TOP - 20) // 16))
    for i, (label, kind) in enumerate(zip(labels, kinds)):
        if i >= rows:
            out.append(f'<text x="{x:.1f}" y="{TOP + 16 * i + 10:.1f}" font-size="11">… and {len(labels) - i} more (see the table)</text>')
            break
        y = TOP + 16 * i
        if kind == "bar":
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{_fill(i)}" stroke="#333" stroke-width="0.5"/>')
        else:
            colour, dash = kind.split("|")
            out.append(f'<line x1="{x:.1f}" y1="{y + 6:.1f}" x2="{x + 22:.1f}" y2="{y + 6:.1f}" stroke="{colour}" '
                       f'stroke-width="2.5" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{x + 28:.1f}" y="{y + 10:.1f}" font-size="11">{escape(label)}</text>')
    return out


def stacked_bars(chart_id: str, title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                 y_label: str, x_label: str = "Quarter (closed)") -> str:
    """A stacked bar per category (quarter); negative values (clawbacks) stack below the axis at zero height.

    Clawbacks are rare and shown in the table; drawing them below zero would
    need a second baseline, so a bar shows the positive parts only and the
    description says so.
    """
    totals = [sum(max(v[i], 0.0) for _, v in series) for i in range(len(categories))]
    top = _nice_max(max(totals, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(categories), 1)
    bar_w = plot_w / n * 0.7
    body = _axes(categories, top, x_label, y_label)
    for i, cat in enumerate(categories):
        x = LEFT + plot_w * (i + 0.5) / n - bar_w / 2
        base = TOP + plot_h
        for s, (label, values) in enumerate(series):
            v = max(values[i], 0.0)
            if v <= 0:
                continue
            h = plot_h * v / top
            base -= h
            body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{_fill(s)}" '
                        f'stroke="#ffffff" stroke-width="0.5"><title>{escape(cat)} {escape(label)}: '
                        f'{_tick_label(values[i])}</title></rect>')
    body += _legend([label for label, _ in series], ["bar"] * len(series))
    desc = f"{title}: stacked bars for {len(categories)} quarter(s), {len(series)} series; the table below gives every figure."
    return _frame(chart_id, title, desc, body)


def lines(chart_id: str, title: str, categories: Sequence[str],
          series: Sequence[tuple[str, Sequence[float | None]]], y_label: str, *, percent: bool = False,
          limit: float | None = None, x_label: str = "Quarter") -> str:
    """A line per series over the categories; ``None`` leaves a gap; ``limit`` draws a labelled horizontal rule."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = _nice_max(max([*values, limit or 0.0], default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(categories), 1)
    body = _axes(categories, top, x_label, y_label, percent)
    if limit is not None:
        y = TOP + plot_h - plot_h * limit / top
        body.append(f'<line x1="{LEFT:.1f}" y1="{y:.1f}" x2="{LEFT + plot_w:.1f}" y2="{y:.1f}" stroke="#000" '
                    f'stroke-width="1.5"/><text x="{LEFT + plot_w - 4:.1f}" y="{y - 4:.1f}" font-size="11" '
                    f'text-anchor="end">limit</text>')
    kinds = []
    for s, (label, vs) in enumerate(series):
        colour, dash = PALETTE[s % len(PALETTE)], DASHES[s % len(DASHES)]
        kinds.append(f"{colour}|{dash}")
        points: list[str] = []
        runs: list[list[str]] = [points]
        for i, v in enumerate(vs):
            if v is None:
                points = []
                runs.append(points)
                continue
            x = LEFT + plot_w * (i + 0.5) / n
            y = TOP + plot_h - plot_h * v / top
            points.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(categories[i])} '
                        f'{escape(label)}: {_tick_label(v)}</title></circle>')
        for run in runs:
            if len(run) > 1:
                body.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2.5" '
                            f'stroke-dasharray="{dash}"/>')
    body += _legend([label for label, _ in series], kinds)
    desc = f"{title}: {len(series)} line(s) over {len(categories)} quarter(s); the table below gives every figure."
    return _frame(chart_id, title, desc, body)


__all__ = ["DASHES", "PALETTE", "lines", "stacked_bars"]
