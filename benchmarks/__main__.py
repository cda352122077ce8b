"""`python -m benchmarks [--quick] [--repeat N] [--out DIR] [--only NAMES] [--device cpu|cuda]`:
time every implementation side by side, print the table, write results.json and results.png."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import chart, report, suite
from benchmarks import implementations as impl
from benchmarks.case import QUICK, Sizes

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes, 3 repeats and a 10 s budget per cell: a smoke run")
    parser.add_argument("--repeat", type=int, help="timed repeats per cell (default 10; 3 quick)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory for results.json and results.png")
    parser.add_argument("--only", help="comma-separated row names (gelu, softmax, layer_norm, "
                        "scale, matmul, mlp_step, cnn_step, compile)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the PyTorch and Ember tensors live (NumPy stays on the CPU)")
    args = parser.parse_args(argv)
    problem = impl.ember_device_problem(args.device)
    if problem:
        parser.exit(2, f"python -m benchmarks: cannot run on --device {args.device}: {problem}\n")
    sizes, budget_s = (QUICK, 10.0) if args.quick else (Sizes(), 60.0)
    repeat = args.repeat or (3 if args.quick else 10)
    only = set(args.only.split(",")) if args.only else None
    results = suite.run(sizes, repeat, budget_s, only=only, device=args.device)
    results["meta"]["quick"] = args.quick
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(results, args.out / "results.json")
    print(report.format_table(results))
    problem = chart.write_png(results, args.out / "results.png")
    print(f"\nwrote {args.out / 'results.json'}"
          + (f"; no chart: {problem}" if problem else f" and {args.out / 'results.png'}"))


if __name__ == "__main__":
    main()
