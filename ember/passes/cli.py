"""`ember-opt`: run a pass pipeline on graph IR text, like mlir-opt.

    ember-opt input.mlir -p canonicalize,cse            # result on stdout
    ember-opt - -p "fold{max-elements=64}" < in.mlir    # `-` or no file: read stdin
    ember-opt --list-passes
    ember-opt in.mlir --split-input-file -p cse         # each `// -----` chunk on its own

IR dumps (`--print-ir-*`) and `--timing` go to stderr. Bad input is reported as
`FILE:LINE:COLUMN: error: message` on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys

from ember.ir import ParseError, VerifyError, parse
from ember.ir.loops_verifier import verify_any
from ember.passes import PASSES, PassManager
from ember.passes.lowering.emitter import LoweringError

SPLIT_MARKER = "// -----"
# The verifier prefixes messages about parsed ops with their `line:column`.
_LOCATION = re.compile(r"(\d+):(\d+): (.*)", re.S)


class Diagnostic(Exception):
    """An error to report as `FILE:LINE:COLUMN: error: message`."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column

    def render(self, filename: str, line_offset: int) -> str:
        if self.line is None:
            return f"{filename}: error: {self.message}"
        return f"{filename}:{self.line + line_offset}:{self.column}: error: {self.message}"


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ember-opt", description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", default="-", help="an .mlir file, or - for stdin")
    parser.add_argument("-p", "--pass-pipeline", default="",
                        help='passes to run, e.g. "canonicalize,cse,fold{max-elements=64}"')
    parser.add_argument("-o", dest="output", default="-", help="output file (default stdout)")
    parser.add_argument("--list-passes", action="store_true",
                        help="list the registered passes and their options")
    parser.add_argument("--split-input-file", action="store_true",
                        help=f"process each chunk between '{SPLIT_MARKER}' lines separately")
    parser.add_argument("--print-ir-after-all", action="store_true")
    parser.add_argument("--print-ir-after-change", action="store_true")
    parser.add_argument("--print-ir-before", action="append", default=[], metavar="PASS",
                        help="print the IR before the named passes (comma-separated)")
    parser.add_argument("--print-ir-after", action="append", default=[], metavar="PASS",
                        help="print the IR after the named passes (comma-separated)")
    parser.add_argument("--timing", action="store_true", help="report the time of each pass")
    parser.add_argument("--no-verify", action="store_true",
                        help="do not verify the input and the IR after each pass")
    return parser


def list_passes() -> str:
    """Every registered pass with its one-line description and its options."""
    lines = []
    for name in sorted(PASSES):
        cls = PASSES[name]
        lines.append(f"  {name}  - {cls.description()}")
        for field in dataclasses.fields(cls):
            lines.append(f"      {field.name.replace('_', '-')}={field.default}")
    return "Available passes:\n" + "\n".join(lines) + "\n"


def _names(values: list[str]) -> tuple[str, ...]:
    return tuple(name for value in values for name in value.split(",") if name)


def split_input(text: str) -> list[tuple[str, int]]:
    """The chunks of `text` between SPLIT_MARKER lines, each with its first line's offset."""
    chunks, current, start = [], [], 0
    for number, line in enumerate(text.splitlines(keepends=True)):
        if line.strip() == SPLIT_MARKER:
            chunks.append(("".join(current), start))
            current, start = [], number + 1
        else:
            current.append(line)
    chunks.append(("".join(current), start))
    return chunks


def process(text: str, args: argparse.Namespace) -> str:
    """Parse, verify, run the pipeline and print one module; Diagnostic on bad IR."""
    try:
        module = parse(text)
        if not args.no_verify:
            verify_any(module)
    except ParseError as e:
        raise Diagnostic(e.reason, e.line, e.column) from e
    except VerifyError as e:
        raise _verify_diagnostic(e) from e
    manager = PassManager(args.pass_pipeline, verify=not args.no_verify,
                          print_ir_before=_names(args.print_ir_before),
                          print_ir_after=_names(args.print_ir_after),
                          print_ir_after_all=args.print_ir_after_all,
                          print_ir_after_change=args.print_ir_after_change,
                          timing=args.timing, out=sys.stderr)
    try:
        manager.run(module)
    except VerifyError as e:
        raise _verify_diagnostic(e) from e
    except LoweringError as e:
        raise Diagnostic(str(e)) from e
    return str(module)


def _verify_diagnostic(error: VerifyError) -> Diagnostic:
    m = _LOCATION.fullmatch(str(error))
    return Diagnostic(m.group(3), int(m.group(1)), int(m.group(2))) if m else \
        Diagnostic(str(error))


def main(argv: list[str] | None = None) -> int:
    """Run ember-opt with `argv` (default: the command line); returns the exit status."""
    args = _arguments().parse_args(argv)
    if args.list_passes:
        sys.stdout.write(list_passes())
        return 0
    try:
        # Check the pipeline once, before any input is read.
        PassManager(args.pass_pipeline)
    except ValueError as e:
        print(f"ember-opt: error: {e}", file=sys.stderr)
        return 1
    filename = "<stdin>" if args.input == "-" else args.input
    try:
        text = sys.stdin.read() if args.input == "-" else open(args.input).read()
    except OSError as e:
        print(f"ember-opt: error: cannot read {filename}: {e.strerror}", file=sys.stderr)
        return 1
    chunks = split_input(text) if args.split_input_file else [(text, 0)]
    sink = sys.stdout if args.output == "-" else open(args.output, "w")
    status, wrote = 0, False
    try:
        for chunk, line_offset in chunks:
            try:
                result = process(chunk, args)
            except Diagnostic as d:
                # As mlir-opt does, later chunks still run; the exit status reports the failure.
                print(d.render(filename, line_offset), file=sys.stderr, flush=True)
                status = 1
                continue
            # Flushing per chunk keeps results and diagnostics in input order on a terminal.
            sink.write((f"{SPLIT_MARKER}\n" if wrote else "") + result + "\n")
            sink.flush()
            wrote = True
    finally:
        if sink is not sys.stdout:
            sink.close()
    return status

if __name__ == "__main__":
    sys.exit(main())
