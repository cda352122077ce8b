"""The user-facing autograd API: backward, grad, and gradcheck against finite differences."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ember.frontend.autograd.engine import run_backward
from ember.frontend.tensor import Tensor


def _as_list(tensors) -> list:
    if tensors is None:
        return []
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _root_grads(outputs: list, grad_outputs: list, create_graph: bool) -> list:
    from ember.frontend.ops.creation import ones_like

    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if i < len(grad_outputs) else None
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               f"a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(got an output of shape {tuple(out.shape)})")
            g = ones_like(out)
        elif tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{tuple(g.shape)} and output[{i}] has a shape of "
                               f"{tuple(out.shape)}.")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate gradients of `tensors` into the `.grad` of the leaves (or of `inputs`)."""
    outputs = _as_list(tensors)
    grads = _root_grads(outputs, _as_list(grad_tensors), create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(outputs, grads, retain_graph=retain, create_graph=create_graph)
        return
    inputs = _as_list(inputs)
    captured = run_backward(outputs, grads, retain_graph=retain, create_graph=create_graph,
                            capture=[t._gradient_edge() for t in inputs])
    for t, g in zip(inputs, captured):
        if g is not None:
            g = g if create_graph else g.detach()
            t.grad = g.clone() if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of `outputs` with respect to `inputs`, returned instead of accumulated."""
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require "
                               f"grad")
    grads = _root_grads(outputs, _as_list(grad_outputs), create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    edges = [t._gradient_edge() for t in inputs]
    captured = run_backward(outputs, grads, retain_graph=retain, create_graph=create_graph,
                            capture=edges)
    result = []
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if g is None and not allow_unused:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not "
                               f"have been used in the graph. Set allow_unused=True if this is "
                               f"the desired behavior.")
        result.append(g if g is None or create_graph else g.detach())
    return tuple(result)


def gradcheck(fn: Callable, inputs: Sequence, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare `fn`'s analytical VJPs with central finite differences (float64 inputs)."""
    from ember.frontend.grad_mode import no_grad

    inputs = [t for t in (inputs if isinstance(inputs, (tuple, list)) else [inputs])]
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in diff:
        if t.dtype.name != "float64":
            raise ValueError(f"gradcheck: inputs that require grad must be float64, got "
                             f"{t.dtype.name}")
    outputs = _as_list(fn(*inputs))
    outputs = [o for o in outputs if isinstance(o, Tensor) and o.dtype.is_floating_point]
    for k, out in enumerate(outputs):
        n_out = out.numel()
        for j, t in enumerate(diff):
            analytic = np.zeros((t.numel(), n_out))
            numeric = np.zeros((t.numel(), n_out))
            for m in range(n_out):
                g = np.zeros(n_out)
                g[m] = 1.0
                g_t = Tensor._wrap(g.reshape(out.shape).astype(out._data.dtype))
                if out.requires_grad:
                    gi = grad([out], [t], [g_t], retain_graph=True, allow_unused=True)[0]
                    if gi is not None:
                        analytic[:, m] = gi._data.reshape(-1)
            for i in range(t.numel()):
                at = np.unravel_index(i, t.shape)
                orig = t._data[at]
                with no_grad():
                    t._data[at] = orig + eps
                    plus = _as_list(fn(*inputs))[k]._data.astype(np.float64).reshape(-1).copy()
                    t._data[at] = orig - eps
                    minus = _as_list(fn(*inputs))[k]._data.astype(np.float64).reshape(-1).copy()
                    t._data[at] = orig
                numeric[i] = (plus - minus) / (2 * eps)
            if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {k} with respect to input {j},\n"
                        f"numerical:{numeric}\nanalytical:{analytic}\n")
                return False
    return True


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""
