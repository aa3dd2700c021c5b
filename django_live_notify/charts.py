"""Small SVG charts drawn on the server for the analytics admin page: no script, no CDN, no library."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ["#417690", "#79aec8", "#5b9e5b", "#e0a030", "#c05050", "#8a6bb0"]
HEIGHT = 180
TOP, BOTTOM, LEFT = 24, 36, 48


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]]) -> SafeString:
    """Return grouped bars: one group per label, one bar per series; a missing value draws no bar."""
    bar_width, gap = 10, 14
    group_width = bar_width * len(series) + gap
    width = LEFT + max(1, len(labels)) * group_width + 16
    peak = max([value for _, values in series for value in values if value is not None] or [0]) or 1
    plot = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT + 16 * len(series)}" '
        f'role="img" aria-label="{escape(title)}" class="live-notify-chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot}" x2="{width - 8}" y2="{TOP + plot}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" font-size="10" text-anchor="end">{_number(peak)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot}" font-size="10" text-anchor="end">0</text>',
    ]
    for index, label in enumerate(labels):
        x0 = LEFT + index * group_width + gap // 2
        for number, (name, values) in enumerate(series):
            value = values[index]
            if value is None:
                continue
            bar_height = round(plot * value / peak, 1)
            x = x0 + number * bar_width
            parts.append(
                f'<rect x="{x}" y="{TOP + plot - bar_height}" width="{bar_width - 1}" height="{bar_height}" '
                f'fill="{COLOURS[number % len(COLOURS)]}"><title>{escape(label)} {escape(name)}: '
                f"{_number(value)}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + (group_width - gap) / 2}" y="{TOP + plot + 14}" font-size="10" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for number, (name, _) in enumerate(series):
        y = HEIGHT + number * 16 - 8
        parts.append(f'<rect x="{LEFT}" y="{y - 9}" width="10" height="10" fill="{COLOURS[number % len(COLOURS)]}"/>')
        parts.append(f'<text x="{LEFT + 16}" y="{y}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def funnel_chart(title: str, steps: Sequence[tuple[str, int]]) -> SafeString:
    """Return horizontal bars, one per step, each with its count and its share of the first step."""
    width, row_height, label_width = 520, 26, 90
    first = steps[0][1] if steps else 0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{24 + row_height * len(steps)}" '
        f'role="img" aria-label="{escape(title)}" class="live-notify-chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
    ]
    for index, (name, count) in enumerate(steps):
        y = 24 + index * row_height
        share = count / first if first else 0
        bar = round((width - label_width - 130) * share, 1)
        parts.append(f'<text x="0" y="{y + 15}" font-size="11">{escape(name)}</text>')
        parts.append(
            f'<rect x="{label_width}" y="{y + 3}" width="{bar}" height="{row_height - 8}" '
            f'fill="{COLOURS[index % len(COLOURS)]}"/>'
        )
        parts.append(f'<text x="{label_width + bar + 6}" y="{y + 15}" font-size="11">{count:,} ({share:.0%})</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def timeline_chart(title: str, events: Sequence[tuple[str, datetime]]) -> SafeString:
    """Return the events as dots on one line, placed by time after the first, labelled with the seconds."""
    width, left, right = 640, 20, 20
    start = events[0][1] if events else None
    span = max([(moment - start).total_seconds() for _, moment in events] or [0]) if start else 0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{40 + 16 * len(events)}" '
        f'role="img" aria-label="{escape(title)}" class="live-notify-chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="24" x2="{width - right}" y2="24" stroke="#999"/>',
    ]
    for index, (name, moment) in enumerate(events):
        offset = (moment - start).total_seconds() if start else 0
        x = left + ((width - left - right) * offset / span if span else 0)
        parts.append(f'<circle cx="{x:.1f}" cy="24" r="5" fill="{COLOURS[index % len(COLOURS)]}"/>')
        parts.append(
            f'<text x="{left}" y="{48 + index * 16}" font-size="11" fill="{COLOURS[index % len(COLOURS)]}">'
            f"{escape(name)}: +{offset:,.1f} s</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
