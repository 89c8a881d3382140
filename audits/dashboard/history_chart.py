"""
A check's history as a small inline SVG, drawn on the server (no chart library).

Two rows share one time axis: a band coloured by success (green while passing,
red while failing, each stretch with a tooltip), and under it, when the check has
a plot value, that value as a step line (a value holds until the next change: the
history keeps changes only) with its minimum and maximum. The colours come from
the page's CSS variables, so dark mode applies.

The time axis spans the range asked for (24 h, 7 d, 30 d), unless the history
starts later (a new install, a new check): it then starts at the first run, so
that a few minutes of history fill the chart instead of being one tick at its
right edge.
"""

from datetime import UTC, datetime, timedelta
from html import escape

from django.utils import timezone

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
WIDTH, BAND_H, PLOT_H, PAD_L, PAD_R, AXIS_H = 640, 14, 90, 46, 8, 16


def render(points: list[dict], since: datetime, now: datetime | None = None) -> str:
    """SVG markup of `points` ({t, success, scalar}, oldest first) from `since` to now."""
    now = now or timezone.now()
    parsed = [(_parse(p["t"]), p["success"], p["scalar"]) for p in points]
    # The state at `since` is the last change before it; later changes follow.
    before = [p for p in parsed if p[0] <= since]
    visible = ([(since, *before[-1][1:])] if before else []) + [p for p in parsed if p[0] > since]
    if visible and not before:  # the history starts later: the axis starts with it
        since = min(visible[0][0], now)
    span = max((now - since).total_seconds(), 1.0)
    inner = WIDTH - PAD_L - PAD_R

    def x(moment: datetime) -> float:
        return round(PAD_L + inner * (moment - since).total_seconds() / span, 1)

    has_scalar = any(p[2] is not None for p in visible)
    height = BAND_H + (PLOT_H + 6 if has_scalar else 0) + AXIS_H
    parts = [
        f'<svg class="history-plot" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="History since {since:%Y-%m-%d %H:%M} UTC" preserveAspectRatio="none">',
        f'<rect class="plot-bg" x="{PAD_L}" y="0" width="{inner}" height="{BAND_H}"/>',
    ]
    for index, (start, success, scalar) in enumerate(visible):
        end = visible[index + 1][0] if index + 1 < len(visible) else now
        state = "passing" if success else "failing"
        x0, x1 = x(start), x(end)
        label = f"{state} from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
        if scalar is not None:
            label += f", value {scalar:g}"
        parts.append(
            f'<rect class="band-{state}" x="{x0}" y="0" width="{max(x1 - x0, 1.0):.1f}" '
            f'height="{BAND_H}"><title>{escape(label)}</title></rect>'
        )
    parts.append(f'<text class="plot-label" x="{PAD_L - 4}" y="{BAND_H - 3}" '
                 'text-anchor="end">status</text>')
    if has_scalar:
        parts.extend(_value_line(visible, now, x))
    axis_y = height - 4
    parts.append(f'<text class="plot-label" x="{PAD_L}" y="{axis_y}">'
                 f'{since:%Y-%m-%d %H:%M}</text>')
    parts.append(f'<text class="plot-label" x="{WIDTH - PAD_R}" y="{axis_y}" '
                 f'text-anchor="end">now ({now:%H:%M} UTC)</text>')
    if not visible:
        parts.append(f'<text class="plot-label" x="{WIDTH / 2}" y="{BAND_H - 3}" '
                     'text-anchor="middle">no run in this period</text>')
    parts.append("</svg>")
    return "".join(parts)


def _value_line(visible, now, x) -> list[str]:
    values = [p[2] for p in visible if p[2] is not None]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    top = BAND_H + 6

    def y(value: float) -> float:
        return round(top + PLOT_H * (1 - (value - low) / (high - low)), 1)

    path, pen_down = [], False
    for index, (start, _, scalar) in enumerate(visible):
        end = visible[index + 1][0] if index + 1 < len(visible) else now
        if scalar is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x(start)} {y(scalar)}H{x(end)}")
        pen_down = True
    return [
        f'<rect class="plot-bg" x="{PAD_L}" y="{top}" width="{WIDTH - PAD_L - PAD_R}" '
        f'height="{PLOT_H}"/>',
        f'<path class="plot-line" d="{" ".join(path)}"/>',
        f'<text class="plot-label" x="{PAD_L - 4}" y="{top + 9}" text-anchor="end">'
        f"{high:g}</text>",
        f'<text class="plot-label" x="{PAD_L - 4}" y="{top + PLOT_H}" text-anchor="end">'
        f"{low:g}</text>",
    ]


def _parse(value: str) -> datetime:
    """history.series' `t` ("%Y-%m-%d %H:%M:%S", UTC) as an aware datetime."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
