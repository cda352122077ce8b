"""Embedding lookup."""

from __future__ import annotations

from ember.frontend.grad_mode import no_grad
from ember.frontend.ops.creation import ones, zeros
from ember.frontend.ops.indexing import index_select, scatter_add
from ember.frontend.tensor import Tensor
from ember.ir import dtypes
from ember.ir.errors import DTypeError, ShapeError


def _renorm_rows(weight: Tensor, flat: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows whose norm exceeds max_norm down to max_norm, in place."""
    used = scatter_add(zeros(weight.shape[0], dtype=weight.dtype, device=weight.device), 0, flat,
                       ones(flat.shape[0], dtype=weight.dtype, device=weight.device)) > 0
    with no_grad():
        norms = weight.norm(norm_type, 1, keepdim=True)
        over = used.unsqueeze(1) & (norms > max_norm)
        # 1e-7 keeps the scaled norm just under max_norm, as PyTorch's embedding_renorm_.
        scale = (max_norm / (norms + 1e-7)).where(over, 1.0)
        weight.copy_(weight * scale)


def embedding(x: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` at the integer indices `x`: out has shape x.shape + (embedding_dim,).

    The row at padding_idx gets no gradient; with scale_grad_by_freq each row's gradient is
    divided by how often it occurs in `x`.
    """
    if x.dtype not in (dtypes.int64, dtypes.int32):
        raise DTypeError(f"ember.embedding: expected indices of dtype int64 or int32, got "
                         f"{x.dtype.name}")
    if weight.ndim != 2:
        raise ShapeError(f"ember.embedding: expected a 2-D weight, got shape "
                         f"{tuple(weight.shape)}")
    if sparse:
        raise NotImplementedError("ember.embedding: sparse gradients are not supported (use "
                                  "sparse=False)")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"ember.embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings {num}")
        padding_idx %= num
    flat = x.reshape(-1).long()
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    out = index_select(weight, 0, flat)
    if padding_idx is not None or scale_grad_by_freq:
        # Rescale only the gradient: out.detach() + (out - out.detach()) * factor has out's
        # value, and factor times its gradient.
        factor = ones(flat.shape[0], dtype=weight.dtype, device=weight.device)
        if scale_grad_by_freq:
            counts = scatter_add(zeros(num, dtype=weight.dtype, device=weight.device), 0, flat, factor)
            factor = 1.0 / index_select(counts, 0, flat)
        if padding_idx is not None:
            factor = factor.where(flat != padding_idx, 0.0)
        frozen = out.detach()
        out = frozen + (out - frozen) * factor.unsqueeze(1)
    return out.reshape(tuple(x.shape) + (weight.shape[1],))
