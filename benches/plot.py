#!/usr/bin/env python3
"""Plots the demo's measurements: bytes the peer received and time until the fd was
released, by strategy, for each peer behaviour. Plain SVG, no plotting library needed.

    cargo run --release --example demo -- --slow-link --csv /tmp/demo.csv
    benches/plot.py /tmp/demo.csv docs/performance.svg
"""

import csv
import sys
from html import escape

BAR_H, GAP, LABEL_W, PANEL_W, TITLE_H = 16, 4, 170, 300, 34


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: benches/plot.py DEMO.csv OUT.svg")
    with open(sys.argv[1], newline="") as source:
        rows = list(csv.DictReader(source))
    if not rows:
        sys.exit(f"{sys.argv[1]}: no rows")
    groups = {}
    for row in rows:
        key = (row["table"], row["peer"] if row["table"] == "loopback" else "early reply, 8 Mbit/s")
        groups.setdefault(key, []).append(row)
    max_ms = max(float(row["released_ms"]) for row in rows) or 1.0
    parts, y = [], 10
    for (table, peer), group in groups.items():
        parts.append(text(10, y + 14, f"{table}: peer {peer}", weight="bold"))
        parts.append(text(LABEL_W, y + 30, "bytes the peer received (% of written)", size=11))
        parts.append(text(LABEL_W + PANEL_W + 40, y + 30, "time until the fd was released (ms)", size=11))
        y += TITLE_H + 6
        for row in group:
            share = int(row["received"]) / max(int(row["written"]), 1)
            ms = float(row["released_ms"])
            lost = share < 1
            parts.append(text(10, y + 12, row["strategy"], size=11))
            parts.append(rect(LABEL_W, y, PANEL_W * share, "#c0392b" if lost else "#27ae60"))
            parts.append(text(LABEL_W + PANEL_W * share + 4, y + 12,
                              f"{share:.0%} ({row['peer_saw']})", size=10))
            x2 = LABEL_W + PANEL_W + 40
            parts.append(rect(x2, y, max(PANEL_W * ms / max_ms, 1), "#2c7fb8"))
            parts.append(text(x2 + PANEL_W * ms / max_ms + 4, y + 12, f"{ms:.1f}", size=10))
            y += BAR_H + GAP
        y += 14
    width = LABEL_W + 2 * PANEL_W + 140
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
           f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
           + "\n".join(parts) + "\n</svg>\n")
    with open(sys.argv[2], "w") as out:
        out.write(svg)


def text(x, y, content, size=12, weight="normal"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}">'
            f"{escape(content)}</text>")


def rect(x, y, width, fill):
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{BAR_H}" fill="{fill}"/>'


if __name__ == "__main__":
    main()
