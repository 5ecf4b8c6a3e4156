"""Charts drawn on the server as inline SVG, and the CSV downloads of the tables under them.

The functions here compute geometry only (plain dicts); ``templates/opportunities/forecast/charts.html`` draws
it. Charts are drawn on a narrow canvas (360 units wide) and scale with ``viewBox``, so text stays legible on a
phone; colours come from classes in ``static/opportunities/charts.css``; every chart has a title and text labels,
and the same numbers are in a table under it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from flask import Response

WIDTH = 360
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 28


def nice_max(value: Decimal | float) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (1 for nothing), so axis ticks are round."""
    value = Decimal(str(value))
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** (len(str(int(value))) - 1) if value >= 1 else Decimal("0.1")
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if power * step >= value:
            return power * step
    return power * 10


def compact(value: Decimal | float) -> str:
    """An axis label: 1.2M, 350K, 123萬 in the user's language."""
    from babel.numbers import format_compact_decimal
    from flask_babel import get_locale

    return format_compact_decimal(float(value), locale=str(get_locale() or "en"), fraction_digits=1)


def month_label(month: dt.date) -> str:
    from flask_babel import format_date

    return format_date(month, "MMM")


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[Decimal]]], height: int = 220) -> dict:
    """Grouped vertical bars: ``series`` is ``[(css class, name, values), ...]`` over ``labels``."""
    top = nice_max(max([v for _c, _n, values in series for v in values] or [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    bars = []
    for index, _label in enumerate(labels):
        for number, (css, name, values) in enumerate(series):
            value = Decimal(values[index] or 0)
            h = float(value / top) * plot_h
            bars.append(
                {
                    "x": round(LEFT + index * slot + slot * 0.1 + number * bar_w, 2),
                    "y": round(TOP + plot_h - h, 2),
                    "w": round(bar_w, 2),
                    "h": round(h, 2),
                    "css": css,
                    "title": f"{labels[index]} · {name}: {value:,.2f}",
                }
            )
    ticks = [{"y": round(TOP + plot_h - plot_h * i / 4, 2), "label": compact(top * i / 4)} for i in range(5)]
    return {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bars": bars,
        "ticks": ticks,
        "labels": [
            {"x": round(LEFT + (i + 0.5) * slot, 2), "y": height - 10, "text": text, "show": _shown(i, len(labels))}
            for i, text in enumerate(labels)
        ],
        "legend": [{"css": css, "name": name} for css, name, _values in series],
    }


def _shown(index: int, count: int) -> bool:
    """Every label when they fit, else every other one (a phone cannot fit twelve month names)."""
    return count <= 6 or index % 2 == 0


def funnel_chart(steps: Iterable[Any]) -> dict:
    """Horizontal bars, one per step, as wide as its share of the first step, labelled with name and count."""
    steps = list(steps)
    first = max([s.reached for s in steps] or [0]) or 1
    row = 46
    rows = []
    for index, step in enumerate(steps):
        w = (WIDTH - 16) * step.reached / first
        rows.append(
            {
                "y": 8 + index * row,
                "text_y": 8 + index * row + 13,
                "bar_y": 8 + index * row + 18,
                "w": round(max(w, 2 if step.reached else 0), 2),
                "name": step.name,
                "value": step.reached,
                "conversion": step.conversion,
                "css": "chart-won" if step.stage_id is None else "chart-stage",
            }
        )
    return {"width": WIDTH, "height": 8 + len(rows) * row + 4, "rows": rows}


def line_chart(labels: Sequence[str], values: Sequence[Decimal | None], height: int = 200) -> dict:
    """Per cent values (0–100) over ``labels`` as a line with dots; gaps where a value is None."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    points = []
    for index, value in enumerate(values):
        if value is None:
            continue
        points.append(
            {
                "x": round(LEFT + (index + 0.5) * slot, 2),
                "y": round(TOP + plot_h - float(value) / 100 * plot_h, 2),
                "title": f"{labels[index]}: {value}%",
            }
        )
    return {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "path": " ".join(f"{'M' if i == 0 else 'L'}{p['x']},{p['y']}" for i, p in enumerate(points)),
        "points": points,
        "ticks": [{"y": round(TOP + plot_h - plot_h * i / 4, 2), "label": f"{25 * i}%"} for i in range(5)],
        "labels": [
            {"x": round(LEFT + (i + 0.5) * slot, 2), "y": height - 10, "text": text, "show": _shown(i, len(labels))}
            for i, text in enumerate(labels)
        ],
    }


def csv_download(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    """A small table as a CSV file: UTF-8 with a byte-order mark (so Excel reads Chinese right), cells that a
    spreadsheet would run as formulas defused."""
    from core.entities.exporting import safe_cell

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(str(h)) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v if isinstance(v, str) else str(v)) for v in row])
    return Response(
        "\ufeff".encode() + buffer.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
