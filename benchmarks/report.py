"""The results as a readable text table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.timing import MIN_SAMPLE_S


def format_seconds(seconds: float) -> str:
    """A wall time with a unit that keeps three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _cell(record: dict | None, footnotes: list[str]) -> str:
    if record is None:
        return "-"
    if record["status"] != "ok":
        text = f"{record['status']}: {record['reason']}"
        if text not in footnotes:
            footnotes.append(text)
        return f"{record['status']} [{footnotes.index(text) + 1}]"
    cell = format_seconds(record["median_s"])
    if record["repeats"] > 1:
        cell += f" ±{record['spread']:.0%}"
    if "ratio" in record:
        cell += f" {record['ratio']:.2f}x"
    return cell


def format_table(results: dict) -> str:
    """Rows are benchmarks, columns implementations; a cell is the median wall time, its spread
    (half the interquartile range) and its ratio to the row's baseline (higher is slower)."""
    columns = results["columns"]
    footnotes: list[str] = []
    lines = [["benchmark", "baseline"] + columns]
    for row in results["benchmarks"]:
        cells = [_cell(row["results"].get(c), footnotes) for c in columns]
        lines.append([row["description"], row["baseline"]] + cells)
        if row["flops"]:
            lines.append(["  GFLOP/s", ""] + [
                f"{r['gflops']:.1f}" if r and r["status"] == "ok" else ""
                for r in (row["results"].get(c) for c in columns)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in lines]
    text.insert(1, "-+-".join("-" * w for w in widths))
    meta = results["meta"]
    header = (f"median wall time, ±half the interquartile range, time/baseline (higher is "
              f"slower); {meta['repeat']} repeats after warm-up, the columns of a row taking "
              f"turns, each the mean per call of back-to-back calls filling "
              f"{MIN_SAMPLE_S * 1e3:.0f} ms; load average "
              f"{meta['load_average'][0]:.1f}; numpy {meta['numpy']}, torch {meta['torch']} "
              f"({meta['torch_threads']} threads), {meta['cpus']} CPUs")
    notes = sorted({f"{c}: {n}" for row in results["benchmarks"]
                    for c, n in row["notes"].items()})
    tail = [f"[{i + 1}] {text}" for i, text in enumerate(footnotes)]
    return "\n".join([header, ""] + text + [""] + notes + tail + [f"device: {meta['device']}"])


def write_json(results: dict, path: Path) -> None:
    """Write `results` as indented JSON."""
    path.write_text(json.dumps(results, indent=1) + "\n")

