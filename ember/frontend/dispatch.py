"""Eager dispatch: run one primitive on tensors and record it on the autograd tape."""

from __future__ import annotations

import numpy as np

from ember.frontend import tracing
from ember.frontend.autograd.node import Node
from ember.frontend.device import CPU, device as Device
from ember.frontend.grad_mode import is_grad_enabled
from ember.frontend.tensor import Tensor
from ember.ir.primitive import PRIMITIVES

# Primitives whose NumPy result may alias the operand; their results become views like PyTorch's.
VIEW_PRIMITIVES = frozenset({"reshape", "permute", "broadcast_to", "slice"})


def apply(op: str, *operands: Tensor, **attrs) -> Tensor:
    """Run primitive `op` on `operands` eagerly; the result joins the tape if grad is needed."""
    prim = PRIMITIVES[op]
    result_type = prim.infer([t.type for t in operands], attrs)
    where = common_device(op, operands)
    if where.type == "cuda":
        from ember.frontend import cuda_eager

        data, is_view = cuda_eager.run(op, operands, attrs, result_type, where)
        out = Tensor._wrap(data)
        if is_view:
            out._become_view_of(operands[0], op, attrs)
    else:
        out = _apply_cpu(op, prim, operands, attrs, result_type)
    # Only floating results carry gradients (an integer cast or comparison ends the history).
    if (prim.differentiable and out.dtype.is_floating_point and is_grad_enabled()
            and any(t.requires_grad for t in operands)):
        node = Node(op, attrs, list(operands), out)
        out._grad_fn = node
        out._requires_grad = True
        node.save_output(out)
    trace = tracing.ACTIVE
    if trace is not None:
        trace.record(op, operands, attrs, out)
    return out


def _apply_cpu(op: str, prim, operands, attrs: dict, result_type) -> Tensor:
    data = prim.evaluate([t._array for t in operands], attrs, result_type)
    if op not in VIEW_PRIMITIVES and any(
            data is t._array or data.base is not None and np.may_share_memory(data, t._array)
            for t in operands):
        data = data.copy()  # NumPy may alias (np.flip); only view primitives share storage
    out = Tensor._wrap(data)
    if op in VIEW_PRIMITIVES and np.may_share_memory(out._array, operands[0]._array):
        out._become_view_of(operands[0], op, attrs)
    return out


def common_device(op: str, operands) -> Device:
    """The device `op` runs on: its operands' one device. As in PyTorch, 0-d CPU tensors (Python
    scalars after promotion) may join tensors of any device; other mixes raise."""
    if all(isinstance(t._array, np.ndarray) for t in operands):
        return CPU
    found: list[Device] = []
    for t in operands:
        d = t.device
        if d not in found and not (d.type == "cpu" and t.ndim == 0):
            found.append(d)
    if len(found) > 1:
        raise RuntimeError(f"ember.{op}: Expected all tensors to be on the same device, but "
                           f"found at least two devices, {found[0]} and {found[1]}!")
    return found[0] if found else CPU
