"""The reachability pre-flight's table (--probe-strict), as the CLI prints it: failures first,
grouped by category, then the reachable hosts, under a one-line summary."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from ..errors import shown
from ..reachability import ProbeResult


def summary(results: list[ProbeResult]) -> str:
    counts = Counter(r.category for r in results if not r.ok)
    ok = sum(r.ok for r in results)
    slowest = max((r.seconds for r in results), default=0.0)
    tail = ", ".join(f"{n} {cat}" for cat, n in counts.most_common())
    return f"{len(results)} host(s): {ok} reachable" + (f", {len(results) - ok} not ({tail})" if tail else "") + \
        f"; slowest probe {slowest:.1f} s"


def render_table(results: list[ProbeResult]) -> Table:
    """Failures first (grouped by category), then the reachable hosts."""
    table = Table(title="SSH reachability", caption=summary(results), show_lines=False)
    for column, style in (("host", "bold"), ("result", None), ("address", None), ("s", None), ("detail", None)):
        table.add_column(column, style=style, justify="right" if column == "s" else "left",
                         overflow="fold" if column == "detail" else "ellipsis")
    for r in sorted(results, key=lambda r: (r.ok, r.category, r.name)):
        table.add_row(shown(r.name), r.category, f"{r.address}:{r.port}", f"{r.seconds:.2f}", r.detail,
                      style=None if r.ok else "red")
    return table
