"""A PNG bar chart of the results: one panel per benchmark, one bar per implementation."""

from __future__ import annotations

import math
from pathlib import Path


def write_png(results: dict, path: Path) -> str | None:
    """Draw the chart with matplotlib; returns why not (matplotlib missing), else None."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = results["benchmarks"]
    ncols = 2
    nrows = math.ceil(len(rows) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(14, 2.4 * nrows + 0.6), squeeze=False)
    for ax, row in zip(axes.flat, rows):
        timed = [(c, r) for c, r in row["results"].items() if r["status"] == "ok"]
        names = [c for c, _ in timed]
        times = [r["median_s"] * 1e3 for _, r in timed]
        bars = ax.barh(names, times, color=["tab:gray" if c == row["baseline"] else "tab:blue"
                                            for c in names])
        labels = [f"{r['ratio']:.2f}x" if "ratio" in r else "" for _, r in timed]
        ax.bar_label(bars, labels=labels, fontsize=8, padding=2)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(min(times, default=1.0) / 3, max(times, default=1.0) * 3)
        ax.invert_yaxis()
        ax.set_title(f"{row['description']} (vs {row['baseline']})", fontsize=9)
        ax.set_xlabel("median ms (log scale)", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(rows):]:
        ax.axis("off")
    fig.suptitle("Ember benchmarks: median wall time, ratio to baseline (gray)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None
