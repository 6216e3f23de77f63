"""`openruntime bench --html FILE`: the bench's figures as one self-contained HTML page, with
bar charts (inline SVG, no script, no network) beside the text table."""

from __future__ import annotations

import html
from typing import Any


def bars(title: str, unit: str, rows: list[tuple[str, float]], budget: float | None = None) -> str:
    """A horizontal bar chart; `budget` draws a line where the budget lies."""
    if not rows:
        return ""
    top = max([v for _, v in rows] + ([budget] if budget else [])) or 1.0
    width, label_w, row_h = 760, 330, 24
    scale = (width - label_w - 80) / top
    parts = [f'<svg width="{width}" height="{row_h * len(rows) + 30}" role="img" aria-label="{html.escape(title)}">']
    for i, (label, value) in enumerate(rows):
        y = 10 + i * row_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(value * scale, 1):.1f}" height="{row_h - 8}" '
                     'fill="#4a78b8"/>')
        parts.append(f'<text x="{label_w + value * scale + 6:.1f}" y="{y + 15}" font-size="12">{value:.3g} {unit}</text>')
    if budget:
        x = label_w + budget * scale
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{10 + row_h * len(rows)}" stroke="#c0392b" '
                     'stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    return f"<h2>{html.escape(title)}</h2>\n" + "".join(parts)


def render_html(results: dict[str, Any], table: str) -> str:
    sections = []
    latency = results.get("latency", {}).get("configs", {})
    sections.append(bars("Warm invocation latency, p50", "ms",
                         [(row["label"], row["p50_ms"]) for row in latency.values()]))
    sections.append(bars("Throughput, one caller", "inv/s",
                         [(row["label"], row["throughput_per_s"]) for row in latency.values()]))
    cold = results.get("cold", {})
    sections.append(bars("Cold start, first invoke, median", "ms",
                         [(row["label"], row["first_invoke_median_ms"]) for row in cold.get("configs", {}).values()]))
    budgets = "".join(
        f"<tr><td>{'' if b['pass'] is None else 'PASS' if b['pass'] else 'MISS'}</td><td>{html.escape(b['budget'])}</td>"
        f"<td>{b['value']:.3f} {html.escape(b['unit'])}</td><td>{html.escape(b['limit'])}</td></tr>"
        for b in results.get("budgets", []))
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>openruntime bench</title>"
            "<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px}td{padding:2px 8px}</style>"
            "</head><body>\n<h1>openruntime bench</h1>\n"
            + "\n".join(s for s in sections if s)
            + f"\n<h2>Budgets</h2><table>{budgets}</table>\n<h2>The table</h2><pre>{html.escape(table)}</pre>\n"
            "</body></html>\n")
