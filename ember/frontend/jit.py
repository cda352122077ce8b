"""`ember.jit`: compile a function or Module by tracing it, with a cache of specialisations.

A call is keyed by its tensor arguments' shapes, dtypes, devices and requires_grad flags, its
static Python arguments, the grad mode, and the state of the Modules and Optimizers the function
can reach (training flags, hyperparameters, which gradients and optimizer states exist). A new
key traces the call (running it eagerly once), later calls with that key run the compiled graphs.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from ember.frontend import pytree, tracing
from ember.frontend.compiled import Specialization, Untraceable, is_tensor, trace_call
from ember.frontend.device import CPU
from ember.frontend.grad_mode import is_grad_enabled
from ember.frontend.tensor import Tensor
from ember.ir.core import Operation

log = logging.getLogger("ember.jit")

# Called as check(stage, module) with every traced graph ("graph") and with the IR after every
# pass (the pass's name), like MLIR's pass instrumentation: the test suite registers the
# verifier, the print/parse round trip and mlir-opt here.
GRAPH_CHECKS: list[Callable[[str, Operation], None]] = []

DEFAULT_PIPELINE = "canonicalize,fold,cse,dce,partition,fuse,schedule,memory-plan"
# The runtime compiled graphs run on unless `backend=` names one, by the device of their tensor
# inputs: "llvm" (native code for this CPU) or "cuda" (PTX launched on the inputs' GPU). The
# other backend, "interpreter", runs the op table's NumPy semantics: the reference.
DEVICE_BACKENDS = {"cpu": "llvm", "cuda": "cuda"}


def _run_checks(stage: str, module: Operation) -> None:
    for check in GRAPH_CHECKS:
        check(stage, module)


class TensorKey(NamedTuple):
    """What a call's key holds for one tensor argument."""

    shape: tuple[int, ...]
    dtype: Any
    device: str  # text: hashing and comparing a device object runs Python code
    requires_grad: bool
    # (the first argument sharing this one's storage, whether it is the same tensor), or None
    alias: tuple[int, bool] | None

    def __str__(self) -> str:
        text = (f"tensor {list(self.shape)} {self.dtype.name} on {self.device}, "
                f"requires_grad={self.requires_grad}")
        if self.alias is None:
            return text
        first, same = self.alias
        return text + (f", the same tensor as argument {first}" if same else
                       f", shares memory with argument {first}")


def _tensor_key(t: Tensor, alias: tuple[int, bool] | None) -> TensorKey:
    array = t._array
    device = _CPU if type(array) is np.ndarray else str(t.device)
    # Only a view's requires_grad can change behind its back (`Tensor._refresh_view`).
    requires_grad = t._requires_grad if t._base is None else t.requires_grad
    return _new_tensor_key((array.shape, t._dtype, device, requires_grad, alias))


_CPU = str(CPU)
# TensorKey(...) without the Python-level __new__ NamedTuple generates
_new_tensor_key = functools.partial(tuple.__new__, TensorKey)


_TENSOR_CALL_STRUCTURES: dict[int, Any] = {}


def _flatten_call(args: tuple, kwargs: dict) -> tuple[list, Any]:
    """The leaves of a call's arguments and their structure, as `pytree.flatten` gives them;
    quick for the usual call, tensors passed by position."""
    if kwargs or not all(isinstance(a, Tensor) for a in args):
        return pytree.flatten((args, kwargs), is_tensor)
    structure = _TENSOR_CALL_STRUCTURES.get(len(args))
    if structure is None:
        structure = _TENSOR_CALL_STRUCTURES[len(args)] = pytree.flatten(
            (args, kwargs), is_tensor)[1]
    return list(args), structure


def static_key(value: Any) -> Any:
    """`value` itself if hashable (a key part), else its identity."""
    try:
        hash(value)
        return value
    except TypeError:
        return ("object", id(value))


# Per type, whether its objects define `_jit_state`: looked up once, as most of what a function
# reaches (modules of Python code, functions) has none, and a failed lookup is slow.
_STATEFUL_TYPES: dict[type, bool] = {}


def _environment(fn: Callable, extra: list) -> dict[str, Any]:
    """State of the stateful objects (Modules, Optimizers) `fn` can reach, as named key parts.

    An object takes part by defining `_jit_state() -> dict[str, hashable]`; this keeps the
    front end free of imports from the library layers above it.
    """
    candidates = [(None, obj) for obj in extra]
    code = getattr(fn, "__code__", None)
    names = code.co_freevars if code is not None else ()
    for i, cell in enumerate(getattr(fn, "__closure__", None) or ()):
        try:
            candidates.append((names[i] if i < len(names) else None, cell.cell_contents))
        except ValueError:
            continue
    if code is not None:
        globals_ = getattr(fn, "__globals__", {})
        candidates += [(n, globals_[n]) for n in code.co_names if n in globals_]
    bound = getattr(fn, "__self__", None)
    if bound is not None:
        candidates.append((None, bound))
    parts = {}
    for var, obj in candidates:
        # Captured tensors are graph inputs fetched by identity: a tensor replaced by another
        # (a reassigned buffer, optimizer.load_state_dict) must retrace, never read the old one.
        if isinstance(obj, Tensor):
            if var is not None:
                parts[f"captured tensor {var!r}"] = tensor_identity(obj)
            continue
        stateful = _STATEFUL_TYPES.get(type(obj))
        if stateful is None:
            stateful = _STATEFUL_TYPES[type(obj)] = callable(getattr(type(obj), "_jit_state",
                                                                     None))
        if stateful:
            parts.update(obj._jit_state())
    return parts


def tensor_identity(t: Tensor) -> int:
    """A key part naming tensor object `t`: captured tensors are fetched by identity, so a
    replaced one (a reassigned buffer, loaded optimizer state) must cause a retrace."""
    return id(t)


def _key_parts(key: tuple) -> dict[str, Any]:
    """A call's key as named parts, for saying what changed between two keys."""
    grad_mode, structure, arguments, environment = key
    parts = {"grad mode": grad_mode, "argument structure": structure}
    parts.update((f"argument {i}", str(a) if isinstance(a, TensorKey) else a)
                 for i, a in enumerate(arguments))
    parts.update(environment)
    return parts


def _named(values: Any) -> dict | None:
    """`values` as a dict if it is a tuple of (name, value) pairs with distinct names."""
    if not isinstance(values, tuple) or not all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in values):
        return None
    named = dict(values)
    return named if len(named) == len(values) else None


def describe_change(old: Any, new: Any) -> str:
    """`old -> new`, shortened to what differs: for (name, value) pairs by name, for other
    tuples of one length by position."""
    old_named, new_named = _named(old), _named(new)
    if old_named is not None and new_named is not None and (old_named or new_named):
        return ", ".join(f"{name}: {old_named.get(name, 'absent')} -> "
                         f"{new_named.get(name, 'absent')}"
                         for name in {**old_named, **new_named}
                         if old_named.get(name) != new_named.get(name)) or "reordered"
    if isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new):
        return ", ".join(f"[{i}] {a} -> {b}" for i, (a, b) in enumerate(zip(old, new))
                         if a != b)
    return f"{old} -> {new}"


@dataclass
class Lowered:
    """The compiled stages of one specialisation; `as_text(stage)` prints one.

    "graph" is the traced forward (and derived backward) graph; "fused" is the IR after the
    pass pipeline, with fusion regions named by kernel. The llvm backend adds "loops" (the
    loops IR, which plain mlir-opt verifies), "llvm" (the -O3-optimised LLVM IR) and "asm"
    (host assembly), one per compiled graph, forward first; they are printed on demand.
    For target "cuda" the stages after "fused" are "loops" (mapped to the GPU: `gpu` dialect
    kernels and their launches), "llvm" (the kernels' -O3 LLVM IR for nvptx64) and "ptx".
    """

    graphs: dict[str, list[Any]]  # per stage, objects whose str() is the text
    pass_dumps: list[tuple[str, str]]

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(self.graphs)

    def as_text(self, stage: str = "graph") -> str:
        """The text of `stage`: MLIR, or LLVM IR or assembly for "llvm" and "asm"."""
        if stage not in self.graphs:
            raise ValueError(f"ember.jit: unknown stage {stage!r}; available: {self.stages}")
        return "\n".join(str(module) for module in self.graphs[stage])


class JitFunction:
    """A function compiled per call signature; call it like the original."""

    def __init__(self, fn: Callable, backend: str | None = None, reach: list | None = None,
                 name: str | None = None, passes: str = DEFAULT_PIPELINE) -> None:
        from ember.runtime import BACKENDS

        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"ember.jit: unknown backend {backend!r}; available: "
                             f"{sorted(BACKENDS)}")
        self.fn = fn
        self.backend = backend
        self.passes = passes
        self._reach = reach or []
        self.name = name or getattr(fn, "__name__", "fn").strip("<>") or "fn"
        self.cache: dict[Any, Specialization | str] = {}
        self.trace_count = 0
        self._last_key: tuple | None = None
        self._reasons: list[str] = []
        self._logged: set[str] = set()
        functools.update_wrapper(self, fn)

    def _key(self, args: tuple, kwargs: dict) -> tuple[tuple, list]:
        """The cache key of a call (a tuple: grad mode, argument structure, one part per
        argument, the environment's parts) and the call's flattened arguments. Computed on
        every call, so it holds values, not text: `_key_parts` words it when a call misses."""
        leaves, structure = _flatten_call(args, kwargs)
        arguments = []
        first_of: dict[int, int] = {}
        modules = []
        for i, leaf in enumerate(leaves):
            if not is_tensor(leaf):
                arguments.append(static_key(leaf))
                modules.append(leaf)
                continue
            first = first_of.setdefault(id(leaf._storage), i)
            # the trace binds aliased arguments together; unaliased ones must retrace
            arguments.append(_tensor_key(leaf, None if first == i else
                                         (first, leaves[first] is leaf)))
        environment = _environment(self.fn, self._reach + modules if modules else self._reach)
        # Parts come in an order fixed by the function and its state, so unsorted items key
        # the same state alike.
        return (is_grad_enabled(), structure, tuple(arguments),
                tuple(environment.items())), leaves

    def __call__(self, *args, **kwargs):
        if tracing.current() is not None:
            # Called while another jitted function traces: inline, so the outer graph records
            # these primitives (a cached graph's results would be baked in as constants).
            return self.fn(*args, **kwargs)
        key, leaves = self._key(args, kwargs)
        entry = self.cache.get(key)
        if isinstance(entry, Specialization):
            stale = entry.check_guards() if entry.guards else None
            if stale is None:
                return entry.run(leaves)
            self._note(f"{stale}")
        elif isinstance(entry, str):
            return self.fn(*args, **kwargs)
        else:
            self._note_miss(key)
        self._last_key = key
        return self._trace(key, args, kwargs, leaves)

    def _note_miss(self, key: tuple) -> None:
        if self._last_key is None:
            self._note("first call")
            return
        old, parts = _key_parts(self._last_key), _key_parts(key)
        changes = [f"{name}: {describe_change(old.get(name, 'absent'), parts.get(name, 'absent'))}"
                   for name in sorted(set(old) | set(parts)) if old.get(name) != parts.get(name)]
        self._note("; ".join(changes) or "a new signature")

    def _note(self, reason: str) -> None:
        self._reasons.append(reason)
        if len(self._reasons) > 1:
            log.info("ember.jit: %s compiles again: %s", self.name, reason)

    def _compiler(self, device_type: str) -> Callable[[Operation], Callable]:
        """The compile function of the backend for graphs whose inputs are on `device_type`."""
        from ember.runtime import BACKENDS

        return BACKENDS[self.backend or DEVICE_BACKENDS[device_type]]

    def _trace(self, key, args: tuple, kwargs: dict, leaves: list):
        self.trace_count += 1
        try:
            spec, outputs = trace_call(self.name, self.fn, args, kwargs, leaves, self._compiler,
                                       self.passes, _run_checks)
        except Untraceable as e:
            self.cache[key] = e.reason
            if e.reason not in self._logged:
                self._logged.add(e.reason)
                log.warning("ember.jit: %s runs eagerly: %s", self.name, e.reason)
            return e.outputs
        self.cache[key] = spec
        _dump(self.name, self.trace_count, spec)
        return outputs

    def explain(self) -> str:
        """Why each compilation happened, oldest first (and why calls run eagerly)."""
        lines = [f"{self.name}: compiled {self.trace_count} time(s)"]
        lines += [f"  compile {i + 1}: {reason}" for i, reason in enumerate(self._reasons)]
        lines += [f"  runs eagerly: {reason}" for reason in self.cache.values()
                  if isinstance(reason, str)]
        return "\n".join(lines)

    def lower(self, *args, target: str = "cpu", arch: str | None = None, **kwargs) -> Lowered:
        """The compiled stages for these arguments (tracing, and so running, the call if new).

        `target` "cuda" gives the CUDA stages instead of the CPU's, for GPU architecture
        `arch` ("sm_80", "sm_90", ...; default: the device's, else sm_90), from the shapes
        and dtypes of the arguments alone: no GPU is needed.
        """
        if target not in ("cpu", "cuda"):
            raise ValueError(f"ember.jit: unknown target {target!r}; available: 'cpu', 'cuda'")
        key, leaves = self._key(args, kwargs)
        if not isinstance(self.cache.get(key), Specialization):
            self._note_miss(key)
            self._last_key = key
            self._trace(key, args, kwargs, leaves)
        entry = self.cache[key]
        if isinstance(entry, str):
            raise RuntimeError(f"ember.jit: {self.name} cannot be compiled for these arguments: "
                               f"{entry}")
        return _lowered(entry) if target == "cpu" else _lowered_cuda(entry, arch)


def _lowered(spec: Specialization) -> Lowered:
    return Lowered(spec.stages, spec.pass_dumps)


def _lowered_cuda(spec: Specialization, arch: str | None) -> Lowered:
    """The CUDA stages of a specialisation's graphs; LLVM IR and PTX made on demand."""
    from ember.codegen.nvptx.compile import compile_graph
    from ember.frontend.compiled import LazyText

    kernels = [compile_graph(graph.module, arch) for graph in (spec.forward, spec.backward)
               if graph is not None]
    stages = {"graph": spec.stages["graph"], "fused": spec.stages["fused"],
              "loops": [kernel.loops for kernel in kernels],
              "llvm": [LazyText(lambda k=kernel: k.optimized_ir) for kernel in kernels],
              "ptx": [LazyText(lambda k=kernel: k.ptx) for kernel in kernels]}
    return Lowered(stages, spec.pass_dumps)


_EXTENSIONS = {"llvm": "ll", "asm": "s"}


def _dump(name: str, count: int, spec: Specialization) -> None:
    """Write each stage, and the IR after each pass, under $EMBER_DUMP_IR when it is set.

    Files: <name>.<count>.<stage>.mlir (.ll for LLVM IR, .s for assembly), and
    <name>.<count>.pass<k>.<pass>.mlir with print-ir-after-all style headers.
    """
    directory = os.environ.get("EMBER_DUMP_IR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    lowered = _lowered(spec)
    files = {f"{name}.{count}.{stage}.{_EXTENSIONS.get(stage, 'mlir')}": lowered.as_text(stage)
             for stage in lowered.stages}
    for k, (pass_name, text) in enumerate(lowered.pass_dumps):
        files[f"{name}.{count}.pass{k}.{pass_name}.mlir"] = (
            f"// -----// IR Dump After {pass_name} //----- //\n{text}")
    for filename, text in files.items():
        with open(os.path.join(directory, filename), "w") as f:
            f.write(text + "\n")


class JitModule:
    """A Module whose calls are compiled; attributes, parameters and state stay the module's."""

    def __init__(self, module, backend: str | None = None,
                 passes: str = DEFAULT_PIPELINE) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "_jit", JitFunction(module.__call__, backend, reach=[module],
                                                     name=type(module).__name__, passes=passes))

    def __call__(self, *args, **kwargs):
        return self._jit(*args, **kwargs)

    def explain(self) -> str:
        """Why each compilation happened."""
        return self._jit.explain()

    def lower(self, *args, **kwargs) -> Lowered:
        """The compiled stages for these arguments."""
        return self._jit.lower(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.module, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self.module, name, value)

    def __repr__(self) -> str:
        return f"JitModule({self.module!r})"


def jit(fn=None, *, backend: str | None = None, passes: str = DEFAULT_PIPELINE):
    """Compile `fn` (a function or an nn.Module); usable as @jit, @jit(backend=...), jit(fn).

    `backend` runs the compiled graphs: "llvm" (native CPU code), "cuda" (GPU kernels) or
    "interpreter"; by default "llvm", or "cuda" for graphs whose tensor inputs are on a GPU.
    `passes` is the pass pipeline run on the traced graphs (ember-opt's pipeline syntax).
    """
    if fn is None:
        return functools.partial(jit, backend=backend, passes=passes)
    if callable(getattr(fn, "_jit_state", None)):
        return JitModule(fn, backend, passes)
    return JitFunction(fn, backend, passes=passes)
