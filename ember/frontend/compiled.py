"""One specialisation of a jitted function: trace a call into graphs, then run them.

The forward graph returns the user's outputs, then the new values of every pre-existing tensor
the call changed in place (written back after each run), then the new `.grad` of tensors whose
gradient the call assigned, then the residuals its derived backward graph needs. The backward
graph takes one cotangent per differentiable output, then the residuals, and returns the
gradient of each differentiable input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ember.frontend import cuda_eager, pytree, tracing
from ember.frontend.device import CPU
from ember.frontend.autograd.engine import run_backward
from ember.frontend.autograd.node import FREED, Node
from ember.frontend.grad_mode import is_grad_enabled
from ember.frontend.tensor import Tensor
from ember.ir.core import Operation


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


@dataclass
class Graph:
    """A traced function and how to feed it: one source per function argument."""

    module: Operation
    sources: list[tuple]
    run: Callable | None = None

    @property
    def func(self) -> Operation:
        return self.module.regions[0].blocks[0].operations[0]


@dataclass
class Specialization:
    """Compiled graphs of one call signature, and what to do with their results."""

    forward: Graph
    out_structure: Any
    out_static: list                 # per output leaf: None (a tensor) or the static value
    n_outputs: int
    writebacks: list[Tensor]
    grads: list[tuple[Tensor, Any]]  # (tensor, "output" | None | a kept Tensor)
    generators: list[tuple[Any, int]]
    guards: list[tuple[Tensor, tuple]]
    backward: Graph | None = None
    differentiable: list[int] = field(default_factory=list)   # output indices
    grad_inputs: list[tuple] = field(default_factory=list)    # sources of differentiable inputs
    n_residuals: int = 0
    stages: dict[str, list[Any]] = field(default_factory=dict)  # str() of each: its text
    pass_dumps: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Worked out once: `run` is on the per-call path, and right after a kernel that
        # streamed through memory every object it touches is a cache miss.
        self._n_grad_outputs = sum(1 for _, action in self.grads if action == "output")
        self._only_tensors = all(static is None for static in self.out_static)
        self._one_tensor = self._only_tensors and self.out_structure == ("leaf",)

    def check_guards(self) -> str | None:
        """Why this specialisation no longer fits the captured tensors, or None."""
        for t, expected in self.guards:
            actual = _guard_state(t)
            if actual != expected:
                return (f"captured tensor {list(expected[0])} {expected[1]} "
                        f"(requires_grad={expected[2]}) changed to {list(actual[0])} "
                        f"{actual[1]} (requires_grad={actual[2]})")
        return None

    def run(self, args_flat: list) -> Any:
        """Run the compiled graphs on the current arguments and state; return the outputs."""
        inputs = [_dense(_fetch_tensor(source, args_flat)._array)
                  if source[0] in ("arg", "tensor") else _counter(*source)
                  for source in self.forward.sources]
        results = self.forward.run(inputs)
        outputs = [Tensor._wrap(a) for a in results[:self.n_outputs]]
        rest = results[self.n_outputs:]
        for t, array in zip(self.writebacks, rest):
            if isinstance(t._array, np.ndarray):
                if not isinstance(array, np.ndarray):
                    # A graph run on CUDA also updates host state (an optimizer's step count).
                    array = cuda_eager.move(array, CPU)
                if array is not t._array:  # else the kernel updated the tensor's buffer
                    np.copyto(t._array, array)
            else:
                cuda_eager.store(t._array, ..., array)
            t._storage.version += 1
        rest = rest[len(self.writebacks):]
        n_grad_outputs = self._n_grad_outputs
        grad_arrays = iter(rest[:n_grad_outputs])
        for t, action in self.grads:
            if action == "output":
                t._grad = Tensor._wrap(next(grad_arrays))
            else:
                t._grad = action
        residuals = rest[n_grad_outputs:]
        for generator, count in self.generators:
            generator._offset += count
        if self.backward is not None and is_grad_enabled():
            self._attach_backward(outputs, residuals, args_flat)
        if self._one_tensor:
            return outputs[0]
        leaves = outputs if self._only_tensors else [
            o if static is None else static
            for o, static in zip(_expand(outputs, self.out_static), self.out_static)]
        return pytree.unflatten(self.out_structure, leaves)

    def _attach_backward(self, outputs: list[Tensor], residuals: list, args_flat: list) -> None:
        inputs = [_fetch_tensor(source, args_flat) for source in self.grad_inputs]
        if not any(t.requires_grad for t in inputs):
            return
        cotangent_shapes = [(outputs[i].shape, outputs[i].dtype) for i in self.differentiable]
        for position, index in enumerate(self.differentiable):
            out = outputs[index]
            node = CompiledBackward("compiled_backward", {"spec": self, "position": position,
                                              "residuals": residuals,
                                              "cotangents": cotangent_shapes}, inputs, out)
            out._grad_fn = node
            out._requires_grad = True

    def run_backward_graph(self, node: Node, g: Tensor) -> tuple:
        """Gradients of the differentiable inputs for cotangent `g` of one output."""
        if is_grad_enabled():
            raise RuntimeError("ember.jit: the backward of a compiled function cannot itself be "
                               "differentiated (create_graph=True); run the function eagerly "
                               "for higher-order gradients")
        cotangents = [_dense(g._array) if i == node.attrs["position"] else
                      np.zeros(tuple(shape), dtype=dtype.numpy)
                      for i, (shape, dtype) in enumerate(node.attrs["cotangents"])]
        grads = self.backward.run(cotangents + list(node.attrs["residuals"]))
        return tuple(Tensor._wrap(a) for a in grads)


class CompiledBackward(Node):
    """The tape node of one output of a compiled forward: its VJP runs the backward graph."""

    def apply_vjp(self, g: Tensor) -> tuple:
        return self.attrs["spec"].run_backward_graph(self, g)

    def name(self) -> str:
        return "CompiledFunctionBackward"


def _expand(outputs: list[Tensor], statics: list) -> list:
    it = iter(outputs)
    return [next(it) if s is None else None for s in statics]


def _guard_state(t: Tensor) -> tuple:
    return (tuple(t.shape), t.dtype.name, t.requires_grad)


def _dense(array):
    """`array` as a graph input: CUDA kernels take dense arrays, so a strided CUDA view is
    gathered first (host arrays are passed as they are)."""
    return array if isinstance(array, np.ndarray) else cuda_eager.dense(array)


def _device_type(trace: tracing.Trace, args_flat: list) -> str:
    """"cuda" if a tensor input of the traced call is on a CUDA device or it moved a tensor it
    made to one, else "cpu"."""
    tensors = [_fetch_tensor(s, args_flat) for s in trace.sources if s[0] in ("arg", "tensor")]
    return "cuda" if trace.made_on_cuda or any(t.is_cuda for t in tensors) else "cpu"


def _counter(kind: str, generator) -> np.ndarray:
    """The value of a random generator that a graph takes as an input: its seed or offset."""
    if kind == "seed":
        return np.array(generator.signed_seed(), dtype=np.int64)
    if kind == "offset":
        return np.array(generator._offset, dtype=np.int64)
    raise AssertionError(kind)


def _fetch_tensor(source: tuple, args_flat: list) -> Tensor:
    kind, what = source
    return args_flat[what] if kind == "arg" else what


class Untraceable(Exception):
    """The call could not be traced; it ran eagerly. `reason` says why, with the source line."""

    def __init__(self, reason: str, outputs: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outputs = outputs


def optimize(forward: Operation, backward: Operation | None, n_residuals: int,
             pipeline: "str", after_pass: Callable) -> tuple:
    """Run the pass pipeline over the traced graphs (forward and backward together, so the
    partition pass can choose the residuals); returns the optimised forward and backward,
    the residual count, the combined module and the IR after each pass."""
    from ember.ir.loops_verifier import verify_any
    from ember.passes import PassManager
    from ember.passes.partition import combine, split

    # The traced forward is optimised in place: the "graph" stage was printed already.
    module = combine(forward, backward, n_residuals) if backward is not None else forward
    # Verifying and printing after every pass would double the compile time; the test suite
    # verifies after every pass through `after_pass`, and EMBER_DUMP_IR asks for the prints.
    manager = PassManager(pipeline, verify=False, after_pass=after_pass,
                          keep_snapshots=bool(os.environ.get("EMBER_DUMP_IR")))
    manager.run(module)
    verify_any(module)
    if backward is None:
        return module, None, 0, module, manager.snapshots
    forward, backward, n_residuals = split(module)
    return forward, backward, n_residuals, module, manager.snapshots


def trace_call(name: str, fn: Callable, args: tuple, kwargs: dict, args_flat: list,
               compile_for: Callable[[str], Callable], pipeline: str,
               after_pass: Callable) -> tuple[Specialization, Any]:
    """Run fn eagerly while tracing it; return its specialisation and the eager outputs.

    `compile_for(device_type)` is the backend's compile function for graphs whose tensor
    inputs are on a device of that type ("cpu" or "cuda").

    Raises Untraceable (carrying the eager outputs) when the call cannot be recorded.
    """
    trace = tracing.Trace(name)
    with tracing.tracing(trace):
        for i, leaf in enumerate(args_flat):
            if is_tensor(leaf) and id(leaf) not in trace.argument_values:
                trace.add_argument(leaf, ("arg", i))
        outputs = fn(*args, **kwargs)
        if trace.abandoned is not None:
            raise Untraceable(trace.abandoned, outputs)
        out_leaves, out_structure = pytree.flatten(outputs, is_tensor)
        out_tensors = [leaf for leaf in out_leaves if is_tensor(leaf)]
        out_static = [None if is_tensor(leaf) else leaf for leaf in out_leaves]
        backward = _derive_backward(name, trace, out_tensors, args_flat)
        if trace.abandoned is not None:
            raise Untraceable(trace.abandoned, outputs)
        result_tensors = list(out_tensors)
        writebacks = [_fetch_tensor(source, args_flat) for source in trace.sources
                      if source[0] in ("arg", "tensor")]
        writebacks = [t for t in writebacks if t._base is None and trace.changed(t)]
        result_tensors += writebacks
        grads = []
        for t, grad in trace.grad_writes.values():
            if grad is not None and id(grad) in trace.bindings:
                grads.append((t, "output"))
                result_tensors.append(grad)
            else:
                grads.append((t, grad))
        residuals = backward[3] if backward else []
        result_values = [trace.value_of(t) for t in result_tensors + residuals]
        trace.builder.ret(result_values)
    traced = [trace.module] + ([backward[0]] if backward else [])
    stages: dict[str, list[Any]] = {"graph": [str(m) for m in traced]}
    for module in traced:
        after_pass("graph", module)
    fwd, bwd, n_residuals, fused, dumps = optimize(
        trace.module, backward[0] if backward else None, len(residuals), pipeline, after_pass)
    stages["fused"] = [fused]
    _offer_buffers(fwd, trace, writebacks, len(out_tensors), args_flat)
    compile_module = compile_for(_device_type(trace, args_flat))
    forward = Graph(fwd, trace.sources, compile_module(fwd))
    spec = Specialization(forward, out_structure, out_static, len(out_tensors), writebacks, grads,
                          [(g[0], g[3]) for g in trace.generators.values()],
                          [(t, _guard_state(t)) for t in trace.lifted], stages=stages,
                          pass_dumps=dumps)
    if backward:
        spec.backward = Graph(bwd, [], compile_module(bwd))
        _, spec.differentiable, spec.grad_inputs, _ = backward
        spec.n_residuals = n_residuals
        # The traced call's outputs differentiate through the derived backward graph too, so
        # that the first call behaves like every later one (no create_graph through it). Its
        # residuals come from the optimised forward run on the call's entry values.
        results = forward.run(trace.entry_arrays)
        spec._attach_backward(out_tensors, results[len(results) - n_residuals:], args_flat)
    for graph in (spec.forward, spec.backward):
        # Backends with stages of their own (the llvm backend's loops, llvm, asm) print them
        # on demand, forward then backward, like the graph stages.
        backend_stages = getattr(graph.run, "stage_texts", dict)() if graph else {}
        for stage, produce in backend_stages.items():
            stages.setdefault(stage, []).append(LazyText(produce))
    return spec, outputs


def _offer_buffers(module: Operation, trace: tracing.Trace, writebacks: list[Tensor],
                   n_outputs: int, args_flat: list) -> None:
    """Mark the forward function's write-back results as storable into the buffers of the
    arguments they update (`ember.donate`; see the `donate-buffers` pass), for tensors whose
    storage no other argument shares."""
    tensors = [_fetch_tensor(source, args_flat) if source[0] in ("arg", "tensor") else None
               for source in trace.sources]
    pairs = []
    for i, t in enumerate(writebacks):
        slots = [j for j, other in enumerate(tensors)
                 if other is not None and other._storage is t._storage]
        if len(slots) == 1 and tensors[slots[0]] is t:
            pairs += [n_outputs + i, slots[0]]
    if pairs:
        module.regions[0].blocks[0].operations[0].attributes["ember.donate"] = tuple(pairs)


class LazyText:
    """A stage's text, produced on first use (a backend may recompile to print it)."""

    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._produce()
        return self._text


def _derive_backward(name: str, forward: tracing.Trace, out_tensors: list[Tensor],
                     args_flat: list):
    """Trace the VJPs of the differentiable outputs into a backward graph, if any are needed."""
    if not is_grad_enabled():
        return None
    differentiable = [i for i, t in enumerate(out_tensors) if t.grad_fn is not None]
    grad_inputs = [source for source in forward.sources if source[0] in ("arg", "tensor")
                   and _fetch_tensor(source, args_flat).requires_grad]
    if not differentiable or not grad_inputs:
        return None
    tensors = [_fetch_tensor(s, args_flat) for s in grad_inputs]
    cotangents = [Tensor._wrap(cuda_eager.move(np.zeros(out_tensors[i].shape,
                                                        out_tensors[i].dtype.numpy),
                                               out_tensors[i].device))
                  for i in differentiable]
    tracing.ACTIVE = None
    backward = tracing.Trace(f"{name}_backward")
    try:
        with tracing.tracing(backward):
            for i, c in enumerate(cotangents):
                backward.add_argument(c, ("cotangent", i))
            grads = run_backward([out_tensors[i] for i in differentiable], cotangents,
                                 retain_graph=True, create_graph=False,
                                 capture=[t._gradient_edge() for t in tensors])
            if backward.abandoned is not None:
                forward.abandon(f"its backward cannot be traced: {backward.abandoned}")
                return None
            filled = [g if g is not None else t.new_zeros(t.shape) for g, t in zip(grads, tensors)]
            backward.builder.ret([backward.value_of(g) for g in filled])
    except RuntimeError as e:
        if FREED.split(".")[0] in str(e):
            return None  # the call ran backward itself (a training step): nothing to derive
        raise
    finally:
        tracing.ACTIVE = forward
    return backward.module, differentiable, grad_inputs, backward.lifted
