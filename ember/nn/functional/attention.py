"""Attention: scaled dot-product attention, written with Tensor operations."""

from __future__ import annotations

import math

from ember.frontend.ops.creation import ones
from ember.frontend.tensor import Tensor
from ember.ir import dtypes
from ember.nn.functional.activation import softmax
from ember.nn.functional.dropout import dropout


def _safe_softmax(scores: Tensor, dim: int = -1) -> Tensor:
    """Softmax where a row that is -inf everywhere (fully masked) gives zeros, not NaN.

    This is what torch's attention kernels return for such rows; the masked rows are replaced
    before the softmax as well as after, so that no NaN reaches the backward pass either."""
    dead = (scores == float("-inf")).all(dim, keepdim=True)
    weights = softmax(scores.masked_fill(dead, 0.0), dim)
    return weights.masked_fill(dead, 0.0)


def _check_mask(op: str, mask: Tensor, query: Tensor, scores_shape) -> None:
    if mask.dtype is not dtypes.bool_ and mask.dtype != query.dtype:
        raise RuntimeError(f"ember.{op}: expected attn_mask dtype to be bool or to match query "
                           f"dtype {query.dtype.name}, got {mask.dtype.name}")
    # The mask must broadcast against the (..., L, S) scores.
    for m, s in zip(reversed(tuple(mask.shape)), reversed(tuple(scores_shape))):
        if m not in (1, s):
            raise RuntimeError(f"ember.{op}: attn_mask of shape {list(mask.shape)} does not "
                               f"broadcast to the attention scores of shape "
                               f"{list(scores_shape)}")
    if mask.dim() > len(scores_shape):
        raise RuntimeError(f"ember.{op}: attn_mask of shape {list(mask.shape)} has more "
                           f"dimensions than the attention scores of shape {list(scores_shape)}")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, as torch.nn.functional's.

    query (..., L, E), key (..., S, E), value (..., S, Ev). A bool attn_mask marks the positions
    that may be attended (True = keep); a float one is added to the scores. `is_causal` masks the
    upper triangle. Dropout is applied to the weights whenever dropout_p > 0, as in torch."""
    op = "scaled_dot_product_attention"
    shapes = f"query {list(query.shape)}, key {list(key.shape)}, value {list(value.shape)}"
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(f"ember.{op}: query, key and value must be at least 2-D, got {shapes}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"ember.{op}: query and key must share the last (embedding) size and "
                           f"key and value the sequence size, got {shapes}")
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(f"ember.{op}: query, key and value must have the same dtype, got "
                           f"{query.dtype.name}, {key.dtype.name} and {value.dtype.name}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"ember.{op}: _scaled_dot_product_attention: explicit attn_mask "
                           f"should not be set when is_causal=True")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = _repeat_heads(op, key, query.shape[-3]), _repeat_heads(op, value,
                                                                            query.shape[-3])
    length, source = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        allowed = ones(length, source, dtype=dtypes.bool_, device=query.device).tril()
        scores = scores.masked_fill(allowed.logical_not(), float("-inf"))
        weights = softmax(scores, -1)
    elif attn_mask is not None:
        _check_mask(op, attn_mask, query, scores.shape)
        if attn_mask.dtype is dtypes.bool_:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
        weights = _safe_softmax(scores, -1)
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


def _repeat_heads(op: str, x: Tensor, heads: int) -> Tensor:
    """Key/value heads repeated so that each serves heads // x.size(-3) query heads (GQA)."""
    groups, rest = divmod(heads, x.shape[-3])
    if rest:
        raise RuntimeError(f"ember.{op}: with enable_gqa the number of query heads {heads} "
                           f"must be a multiple of the key/value heads, got {list(x.shape)}")
    lead = tuple(x.shape[:-3])
    tail = tuple(x.shape[-2:])
    expanded = x.unsqueeze(-3).expand(*lead, x.shape[-3], groups, *tail)
    return expanded.reshape(*lead, heads, *tail)
