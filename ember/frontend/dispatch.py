"""Eager dispatch: run one primitive on tensors and record it on the autograd tape."""

from __future__ import annotations

import numpy as np

from ember.frontend import tracing
from ember.frontend.autograd.node import Node
from ember.frontend.grad_mode import is_grad_enabled
from ember.frontend.tensor import Tensor
from ember.ir.primitive import PRIMITIVES

# Primitives whose NumPy result may alias the operand; their results become views like PyTorch's.
VIEW_PRIMITIVES = frozenset({"reshape", "permute", "broadcast_to", "slice"})


def apply(op: str, *operands: Tensor, **attrs) -> Tensor:
    """Run primitive `op` on `operands` eagerly; the result joins the tape if grad is needed."""
    prim = PRIMITIVES[op]
    result_type = prim.infer([t.type for t in operands], attrs)
    data = prim.evaluate([t._array for t in operands], attrs, result_type)
    if op not in VIEW_PRIMITIVES and any(
            data is t._array or data.base is not None and np.may_share_memory(data, t._array)
            for t in operands):
        data = data.copy()  # NumPy may alias (np.flip); only view primitives share storage
    out = Tensor._wrap(data)
    if op in VIEW_PRIMITIVES and np.may_share_memory(out._array, operands[0]._array):
        out._become_view_of(operands[0], op, attrs)
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
