"""Passes, their registry, textual pipelines and the pass manager.

A pass is a dataclass with a `name`, a one-line `description` (the first line of its docstring)
and options as fields; `run(module)` transforms a `builtin.module` in place. Pipelines are text
as in MLIR: `"canonicalize,cse,fuse{max-ops=64}"`, option names in kebab-case.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Callable, ClassVar, TextIO

from ember.ir.core import Operation

PASSES: dict[str, type["Pass"]] = {}


@dataclasses.dataclass
class Pass:
    """Base class of passes."""

    name: ClassVar[str] = ""

    @classmethod
    def description(cls) -> str:
        """The first line of the pass's docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def run(self, module: Operation) -> None:
        """Transform `module` in place."""
        raise NotImplementedError

    def pipeline_text(self) -> str:
        """This pass with its options, as pipeline text."""
        options = [f"{f.name.replace('_', '-')}={_format(getattr(self, f.name))}"
                   for f in dataclasses.fields(self)]
        return self.name + ("{" + " ".join(options) + "}" if options else "")


def _format(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make `cls` available by `cls.name` in pipelines."""
    if not cls.name or cls.name in PASSES:
        raise ValueError(f"pass name {cls.name!r} is empty or registered twice")
    PASSES[cls.name] = dataclasses.dataclass(cls)
    return PASSES[cls.name]


def _convert(text: str, kind, pass_name: str, option: str):
    try:
        if kind in (bool, "bool"):
            if text not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text in ("true", "1")
        if kind in (int, "int"):
            return int(text)
        if kind in (float, "float"):
            return float(text)
        return text
    except ValueError:
        raise ValueError(f"pass {pass_name}: option {option}={text!r} is not a valid "
                         f"{getattr(kind, '__name__', kind)}") from None


def parse_pipeline(text: str) -> list[Pass]:
    """Passes from pipeline text such as `canonicalize,cse,fuse{max-ops=64}`."""
    passes, i = [], 0
    text = text.strip()
    while i < len(text):
        j = i
        while j < len(text) and text[j] not in ",{":
            j += 1
        name = text[i:j].strip()
        options: dict[str, str] = {}
        if j < len(text) and text[j] == "{":
            end = text.find("}", j)
            if end < 0:
                raise ValueError(f"pipeline: unterminated options for pass {name!r}")
            for item in text[j + 1:end].replace(",", " ").split():
                key, _, value = item.partition("=")
                options[key] = value
            j = end + 1
        if name not in PASSES:
            raise ValueError(f"pipeline: unknown pass {name!r}; known passes: "
                             f"{', '.join(sorted(PASSES))}")
        cls = PASSES[name]
        fields = {f.name.replace("_", "-"): f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in options.items():
            if key not in fields:
                raise ValueError(f"pass {name}: unknown option {key!r}; options: "
                                 f"{', '.join(fields) or 'none'}")
            kwargs[fields[key].name] = _convert(value, fields[key].type, name, key)
        passes.append(cls(**kwargs))
        while j < len(text) and text[j] in ", ":
            j += 1
        i = j
    return passes


class PassManager:
    """Runs passes in order, verifying after each, printing IR and timings when asked."""

    def __init__(self, pipeline: "str | list[Pass]", *, verify: bool = True,
                 print_ir_before: tuple[str, ...] = (), print_ir_after: tuple[str, ...] = (),
                 print_ir_after_all: bool = False, print_ir_after_change: bool = False,
                 timing: bool = False, out: TextIO | None = None,
                 after_pass: Callable[[str, Operation], None] | None = None,
                 keep_snapshots: bool = True) -> None:
        self.passes = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
        self.verify = verify
        self.print_ir_before = set(print_ir_before)
        self.print_ir_after = set(print_ir_after)
        self.print_ir_after_all = print_ir_after_all
        self.print_ir_after_change = print_ir_after_change
        self.timing = timing
        self.after_pass = after_pass
        # Printing the IR after every pass costs about as much as the passes: jit asks for
        # snapshots only when it dumps them.
        self.keep_snapshots = keep_snapshots
        self.out = out or sys.stderr
        self.timings: list[tuple[str, float]] = []
        self.snapshots: list[tuple[str, str]] = []

    def run(self, module: Operation) -> Operation:
        """Run the pipeline on `module` in place and return it."""
        from ember.ir.loops_verifier import verify_any

        for p in self.passes:
            if p.name in self.print_ir_before:
                self._print(f"IR Dump Before {p.name}", module)
            before = str(module) if self.print_ir_after_change else None
            start = time.perf_counter()
            p.run(module)
            self.timings.append((p.name, time.perf_counter() - start))
            if self.verify:  # lowering passes change the level, and so the verifier
                verify_any(module)
            if self.after_pass is not None:
                self.after_pass(p.name, module)
            may_print = (self.print_ir_after_all or p.name in self.print_ir_after
                         or self.print_ir_after_change)
            text = str(module) if self.keep_snapshots or may_print else ""
            if self.keep_snapshots:
                self.snapshots.append((p.name, text))
            if (self.print_ir_after_all or p.name in self.print_ir_after
                    or (self.print_ir_after_change and before != text)):
                self._print(f"IR Dump After {p.name}", module, text)
        if self.timing:
            self.out.write(self.timing_report())
        return module

    def _print(self, header: str, module: Operation, text: str | None = None) -> None:
        self.out.write(f"// -----// {header} //----- //\n{text or str(module)}\n\n")

    def timing_report(self) -> str:
        """A table of wall time per pass, like -mlir-timing."""
        total = sum(t for _, t in self.timings) or 1e-12
        lines = ["===" + "-" * 70 + "===", "  ... Execution time report ...",
                 "===" + "-" * 70 + "===", f"  Total Execution Time: {total:.4f} seconds", "",
                 "  ----Wall Time----  ----Name----"]
        for name, t in self.timings:
            lines.append(f"  {t:.4f} ({100 * t / total:5.1f}%)  {name}")
        lines.append(f"  {total:.4f} (100.0%)  Total")
        return "\n".join(lines) + "\n"
