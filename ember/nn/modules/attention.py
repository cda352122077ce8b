"""MultiheadAttention, with torch's parameters, masks and return values."""

from __future__ import annotations

import math

from ember.frontend.ops.creation import empty, zeros, zeros_like
from ember.frontend.ops.shape import cat
from ember.frontend.tensor import Tensor
from ember.ir import dtypes
from ember.nn import init
from ember.nn.functional.activation import softmax
from ember.nn.functional.attention import scaled_dot_product_attention
from ember.nn.functional.dropout import dropout as _dropout
from ember.nn.functional.linear import linear
from ember.nn.modules.linear import Linear
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter


def _canonical_mask(mask: Tensor | None, name: str, query: Tensor) -> Tensor | None:
    """A bool mask (True = may not attend) as an additive float mask of query's dtype."""
    if mask is None:
        return None
    if mask.dtype is dtypes.bool_:
        return zeros_like(mask, dtype=query.dtype).masked_fill(mask, float("-inf"))
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"ember.nn.MultiheadAttention: only bool and floating types of "
                             f"{name} are supported, got {mask.dtype.name}")
    return mask


def _pad_key(mask: Tensor | None) -> Tensor | None:
    """An additive mask with one more key position that every query may attend."""
    if mask is None:
        return None
    return cat([mask, zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)], -1)


class MultiheadAttention(Module):
    """Attention from `num_heads` heads in parallel, as torch.nn.MultiheadAttention.

    Inputs are (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)); forward returns
    (output, weights), weights averaged over the heads unless average_attn_weights=False and None
    when need_weights=False. In masks, True (or -inf) marks positions that may not be attended.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"ember.nn.MultiheadAttention: embed_dim and num_heads must be "
                             f"greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            # torch raises AssertionError here; keep the type so that callers' handlers match.
            raise AssertionError(f"ember.nn.MultiheadAttention: embed_dim must be divisible by "
                                 f"num_heads, got embed_dim={embed_dim}, num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn

        def param(*shape):
            return Parameter(empty(*shape, dtype=dtype, device=device))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = param(embed_dim, embed_dim)
            self.k_proj_weight = param(embed_dim, self.kdim)
            self.v_proj_weight = param(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        if add_bias_kv:
            self.bias_k = param(1, 1, embed_dim)
            self.bias_v = param(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases, Xavier-normal bias_k/bias_v (as torch)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def _check_shapes(self, query: Tensor, key: Tensor, value: Tensor,
                      key_padding_mask: Tensor | None, attn_mask: Tensor | None) -> bool:
        """Whether the call is batched; raises for inconsistent ranks, as torch's shape check."""
        op = "ember.nn.MultiheadAttention"
        shapes = (f"query {list(query.shape)}, key {list(key.shape)}, "
                  f"value {list(value.shape)}")
        if query.dim() not in (2, 3):
            raise AssertionError(f"{op}: query should be unbatched 2D or batched 3D tensor but "
                                 f"received {query.dim()}-D query tensor ({shapes})")
        batched = query.dim() == 3
        if key.dim() != query.dim() or value.dim() != query.dim():
            raise AssertionError(f"{op}: for {query.dim()}-D query, expected key and value to be "
                                 f"{query.dim()}-D, got {shapes}")
        if key_padding_mask is not None and key_padding_mask.dim() != (2 if batched else 1):
            raise AssertionError(f"{op}: for {query.dim()}-D query, expected key_padding_mask "
                                 f"to be {2 if batched else 1}-D, got shape "
                                 f"{list(key_padding_mask.shape)}")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(f"{op}: expected attn_mask to be 2-D or 3-D, got shape "
                                 f"{list(attn_mask.shape)}")
        return batched

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        """The query, key and value projections, one matmul when the inputs are one tensor."""
        b_q = b_k = b_v = None
        if self.in_proj_bias is not None:
            b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        if not self._qkv_same_embed_dim:
            return (linear(query, self.q_proj_weight, b_q), linear(key, self.k_proj_weight, b_k),
                    linear(value, self.v_proj_weight, b_v))
        if key is query and value is query:
            return linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, -1)
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(attention output, attention weights or None), as torch."""
        op = "ember.nn.MultiheadAttention"
        batched = self._check_shapes(query, key, value, key_padding_mask, attn_mask)
        # Work sequence-first, (L, N, E); an unbatched call is a batch of one.
        if batched and self.batch_first:
            same_kv = key is value
            if key is query and value is query:
                query = key = value = query.transpose(0, 1)
            else:
                query, key = query.transpose(0, 1), key.transpose(0, 1)
                value = key if same_kv else value.transpose(0, 1)
        elif not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]
        heads, head_dim = self.num_heads, self.head_dim
        if embed_dim != self.embed_dim:
            raise AssertionError(f"{op}: was expecting embedding dimension of {self.embed_dim}, "
                                 f"but got {embed_dim} (query shape {list(query.shape)})")
        if key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise AssertionError(f"{op}: expected key and value feature sizes {self.kdim} and "
                                 f"{self.vdim}, got key {list(key.shape)}, value "
                                 f"{list(value.shape)}")
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"{op}: key shape {list(key.shape)} does not match value shape "
                                 f"{list(value.shape)}")
        key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query)
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query)
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{op}: need attn_mask if specifying the is_causal hint. You may "
                               f"use the Transformer module method "
                               f"`generate_square_subsequent_mask` to create this mask.")
        # Like torch, trust the hint when nothing else needs the mask: SDPA builds it.
        causal_hint = is_causal and key_padding_mask is None and not need_weights
        if causal_hint:
            attn_mask = None
        if attn_mask is not None:
            if attn_mask.dim() == 2:
                if tuple(attn_mask.shape) != (tgt_len, src_len):
                    raise RuntimeError(f"{op}: the shape of the 2D attn_mask is "
                                       f"{list(attn_mask.shape)}, but should be "
                                       f"{[tgt_len, src_len]}.")
                attn_mask = attn_mask.unsqueeze(0)
            elif tuple(attn_mask.shape) != (bsz * heads, tgt_len, src_len):
                raise RuntimeError(f"{op}: the shape of the 3D attn_mask is "
                                   f"{list(attn_mask.shape)}, but should be "
                                   f"{[bsz * heads, tgt_len, src_len]}.")

        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, bsz, embed_dim)])
            v = cat([v, self.bias_v.expand(1, bsz, embed_dim)])
            attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
        # Heads become part of the batch: (N * heads, length, head_dim).
        q = q.reshape(tgt_len, bsz * heads, head_dim).transpose(0, 1)
        k = k.reshape(k.shape[0], bsz * heads, head_dim).transpose(0, 1)
        v = v.reshape(v.shape[0], bsz * heads, head_dim).transpose(0, 1)
        if self.add_zero_attn:
            k = cat([k, zeros(bsz * heads, 1, head_dim, dtype=k.dtype, device=k.device)], 1)
            v = cat([v, zeros(bsz * heads, 1, head_dim, dtype=v.dtype, device=v.device)], 1)
            attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
        src_len = k.shape[1]
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (bsz, src_len):
                raise AssertionError(f"{op}: expecting key_padding_mask shape of "
                                     f"{[bsz, src_len]}, but got "
                                     f"{list(key_padding_mask.shape)}")
            padding = key_padding_mask.reshape(bsz, 1, 1, src_len) \
                .expand(bsz, heads, 1, src_len).reshape(bsz * heads, 1, src_len)
            attn_mask = padding if attn_mask is None else attn_mask + padding
        dropout_p = self.dropout if self.training else 0.0

        if need_weights:
            # torch's explicit path: a plain softmax, so fully masked rows give NaN as there.
            scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
            if attn_mask is not None:
                scores = scores + attn_mask
            weights = softmax(scores, -1)
            if dropout_p > 0.0:
                weights = _dropout(weights, dropout_p, True)
            out = (weights @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
            weights = weights.reshape(bsz, heads, tgt_len, src_len)
            if average_attn_weights:
                weights = weights.mean(1)
        else:
            if attn_mask is not None:
                attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 \
                    else attn_mask.reshape(bsz, heads, -1, src_len)
            out = scaled_dot_product_attention(
                q.reshape(bsz, heads, tgt_len, head_dim), k.reshape(bsz, heads, src_len, head_dim),
                v.reshape(bsz, heads, src_len, head_dim), attn_mask, dropout_p, causal_hint)
            out = out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim)
            weights = None
        out = linear(out, self.out_proj.weight, self.out_proj.bias).reshape(tgt_len, bsz,
                                                                           embed_dim)
        if not batched:
            out = out.squeeze(1)
            weights = weights.squeeze(0) if weights is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights
