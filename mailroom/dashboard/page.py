"""HTML building blocks of the dashboard: number formats, KPI cards, tables,
plotly charts and the page around them.

Every figure a reader (or a test) may want to check is written with stable
attributes: `data-metric` names the figure, `data-key` the row it belongs to
in a table, `data-value` holds the unformatted value (the text shows it
formatted). Charts sit in `<div class="chart" data-chart="...">`.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

PALETTE = [
    "#2563eb",
    "#f97316",
    "#16a34a",
    "#9333ea",
    "#dc2626",
    "#0891b2",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
]
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def is_missing(value: Any) -> bool:
    """None, NaN or NaT."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def raw_value(value: Any) -> str:
    """The value as written in data-value: plain, unrounded, '' when missing."""
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return repr(float(value))
    if hasattr(value, "item"):  # numpy scalars
        return raw_value(value.item())
    return str(value)


def fmt_int(value: Any) -> str:
    return "–" if is_missing(value) else f"{int(value):,}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    return "–" if is_missing(value) else f"{float(value):.{digits}%}"


def fmt_signed_pct(value: Any) -> str:
    return "–" if is_missing(value) else f"{float(value):+.2%}"


def fmt_float(value: Any, digits: int = 3) -> str:
    return "–" if is_missing(value) else f"{float(value):,.{digits}f}"


def fmt_money(value: Any, currency: str = "EUR", digits: int = 0) -> str:
    if is_missing(value):
        return "–"
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if float(value) < 0 else ""
    return f"{sign}{symbol}{abs(float(value)):,.{digits}f}"


def fmt_date(value: Any) -> str:
    if is_missing(value):
        return "–"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)[:10]


def fmt_bool(value: Any) -> str:
    return "–" if is_missing(value) else ("yes" if value else "no")


def fmt_text(value: Any) -> str:
    return "–" if is_missing(value) else str(value)


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def figure(
    metric: str,
    value: Any,
    text: str,
    key: str | None = None,
    tag: str = "span",
    css: str = "",
) -> str:
    """One figure with its stable attributes."""
    key_attr = f' data-key="{esc(key)}"' if key is not None else ""
    class_attr = f' class="{css}"' if css else ""
    return (
        f'<{tag}{class_attr} data-metric="{esc(metric)}"{key_attr} '
        f'data-value="{esc(raw_value(value))}">{esc(text)}</{tag}>'
    )


def kpi(metric: str, label: str, value: Any, text: str, hint: str = "") -> str:
    hint_html = f'<div class="kpi-hint">{esc(hint)}</div>' if hint else ""
    return (
        '<div class="kpi">'
        f'<div class="kpi-label">{esc(label)}</div>'
        f"{figure(metric, value, text, css='kpi-value', tag='div')}"
        f"{hint_html}</div>"
    )


def kpis(cards: Iterable[str]) -> str:
    return '<div class="kpis">' + "".join(cards) + "</div>"


@dataclass
class Column:
    """A table column: header, the row field, its format and the data-metric it carries."""

    header: str
    field: str
    fmt: Callable[[Any], str] = fmt_text
    metric: str | None = None
    numeric: bool = False
    wrap: bool = False  # long text that may wrap (other cells stay on one line)


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    key: str | Callable[[dict[str, Any]], str] | None = None,
    caption: str = "",
    table_id: str = "",
) -> str:
    """A table; columns with a metric write each cell as a figure keyed by the row."""

    def row_key(row: dict[str, Any]) -> str | None:
        if key is None:
            return None
        return key(row) if callable(key) else raw_value(row[key])

    head = "".join(
        f'<th class="{"num" if c.numeric else ""}">{esc(c.header)}</th>' for c in columns
    )
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c.field)
            text = c.fmt(value)
            classes = " ".join(name for name, on in (("num", c.numeric), ("wrap", c.wrap)) if on)
            css = f' class="{classes}"' if classes else ""
            if c.metric:
                cells.append(f"<td{css}>{figure(c.metric, value, text, key=row_key(row))}</td>")
            else:
                cells.append(f"<td{css}>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption_html = f"<caption>{esc(caption)}</caption>" if caption else ""
    id_attr = f' data-table="{esc(table_id)}"' if table_id else ""
    return (
        f'<div class="table-wrap"><table{id_attr}>{caption_html}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def chart(chart_id: str, fig: go.Figure, height: int = 360) -> str:
    """A plotly chart drawn by the page's inlined plotly.js (no CDN)."""
    top = 40 if fig.layout.title.text or fig.layout.annotations else 16  # title, subplot titles
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 20, "t": top, "b": 50},
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        colorway=PALETTE,
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(gridcolor="#eef0f3", zerolinecolor="#d9dce1")
    fig.update_yaxes(gridcolor="#eef0f3", zerolinecolor="#d9dce1")
    # counts and amounts start at zero unless the figure chose otherwise
    fig.for_each_yaxis(lambda axis: axis.update(rangemode=axis.rangemode or "tozero"))
    div = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        config=PLOT_CONFIG,
        div_id=f"chart-{chart_id}",
        default_height=f"{height}px",
    )
    return f'<div class="chart" data-chart="{esc(chart_id)}">{div}</div>'


def no_data(message: str, key: str) -> str:
    return f'<div class="no-data" data-no-data="{esc(key)}">{esc(message)}</div>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def pair(left: str, right: str) -> str:
    """Chart and table side by side (stacked on narrow screens)."""
    return f'<div class="pair"><div>{left}</div><div>{right}</div></div>'


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    parts: list[str] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    has_data: bool = True

    def add(self, *parts: str) -> None:
        self.parts.extend(parts)

    def add_chart(self, chart_id: str, fig: go.Figure, height: int = 360) -> str:
        self.charts.append(chart_id)
        return chart(chart_id, fig, height)

    def subheading(self, text: str) -> None:
        self.parts.append(f"<h3>{esc(text)}</h3>")

    def html(self) -> str:
        intro = f'<p class="intro">{esc(self.intro)}</p>' if self.intro else ""
        return (
            f'<section id="{esc(self.key)}" data-section="{esc(self.key)}">'
            f"<h2>{esc(self.title)}</h2>{intro}{''.join(self.parts)}</section>"
        )


CSS = """
:root { --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #f6f7f9; --card: #fff;
        --accent: #2563eb; --warn: #b45309; --bad: #b91c1c; --good: #15803d; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: #0f172a; color: #f8fafc; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 650; }
header .meta { color: #cbd5e1; font-size: 13px; }
nav { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 32px;
      position: sticky; top: 0; z-index: 5; }
nav a { color: var(--accent); text-decoration: none; margin-right: 18px; font-size: 13px; }
main { max-width: 1320px; margin: 0 auto; padding: 16px 32px 48px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
          padding: 18px 22px; margin: 18px 0; }
h2 { margin: 0 0 6px; font-size: 18px; }
h3 { margin: 18px 0 8px; font-size: 15px; color: #1f2937; }
.intro, .note { color: var(--muted); margin: 0 0 10px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px;
        margin: 8px 0 14px; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fbfcfd; }
.kpi-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi-value { font-size: 24px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.kpi-hint { color: var(--muted); font-size: 12px; }
/* Grid tracks are sized by the page, not by their content: a chart drawn while
   the page is still loading (before its table exists) gets its final width. */
.pair { display: grid; grid-template-columns: minmax(0, 11fr) minmax(0, 9fr); gap: 18px;
        align-items: start; }
@media (max-width: 1000px) { .pair { grid-template-columns: minmax(0, 1fr); } }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { padding: 5px 7px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top;
         white-space: nowrap; }
td.wrap { white-space: normal; }
th { background: #f9fafb; font-weight: 600; color: #374151; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #f8fafc; }
.no-data { border: 1px dashed #cbd5e1; border-radius: 8px; padding: 14px; color: #475569;
           background: #f8fafc; margin: 8px 0; }
.status-fail { color: var(--bad); font-weight: 600; }
.status-warn { color: var(--warn); font-weight: 600; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 16px; }
"""


def page(title: str, meta: str, sections: Sequence[Section], plotly_js: str, footer: str) -> str:
    nav = "".join(f'<a href="#{esc(s.key)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(s.html() for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{plotly_js}</script>'
        "</head><body>"
        f'<header><h1>{esc(title)}</h1><div class="meta">{meta}</div></header>'
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<footer>{esc(footer)}</footer></body></html>\n"
    )
