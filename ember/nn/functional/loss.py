"""Loss functions (torch.nn.functional's), written with Tensor operations."""

from __future__ import annotations

import warnings

from ember.frontend.ops.shape import broadcast_tensors
from ember.frontend.tensor import Tensor
from ember.frontend.tracing import peek
from ember.ir import dtypes
from ember.ir.errors import DTypeError, ShapeError
from ember.nn.functional.activation import log_softmax

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(size_average, reduce, reduction: str, allowed=_REDUCTIONS) -> str:
    """The reduction name, from the deprecated size_average/reduce flags when either is given."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _describe(*tensors: Tensor) -> str:
    shapes = " and ".join(str(list(t.shape)) for t in tensors)
    names = " and ".join(t.dtype.name for t in tensors)
    return f"shapes {shapes}, dtypes {names}"


def _check_float(op: str, *tensors: Tensor) -> None:
    for t in tensors:
        if not t.dtype.is_floating_point:
            raise DTypeError(f"ember.{op}: expected floating point tensors, got "
                             f"{_describe(*tensors)}")


def _pointwise_operands(op: str, input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """input and target broadcast together, warning like PyTorch when their sizes differ."""
    _check_float(op, input, target)
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"ember.{op}: using a target size ({list(target.shape)}) that is different "
                      f"to the input size ({list(input.shape)}). This will likely lead to "
                      f"incorrect results due to broadcasting. Please ensure they have the same "
                      f"size.", stacklevel=3)
    try:
        return broadcast_tensors(input, target)
    except (RuntimeError, ValueError):
        raise ShapeError(f"ember.{op}: input and target cannot be broadcast together, got "
                         f"{_describe(input, target)}") from None


def _weighted(op: str, loss: Tensor, input: Tensor, weight: Tensor | None, reduction: str,
              mean_by_weight: bool) -> Tensor:
    """Reduce a pointwise loss, scaled first by a per-element weight of the input's size."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"ember.{op}: weights and input must have the same size, got "
                         f"{_describe(weight, input)}")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error (input - target)**2, optionally weighted per element."""
    reduction = _reduction(size_average, reduce, reduction)
    a, b = _pointwise_operands("mse_loss", input, target)
    diff = a - b
    return _weighted("mse_loss", diff * diff, input, weight, reduction, mean_by_weight=True)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error |input - target|, optionally weighted per element."""
    reduction = _reduction(size_average, reduce, reduction)
    a, b = _pointwise_operands("l1_loss", input, target)
    return _weighted("l1_loss", (a - b).abs(), input, weight, reduction, mean_by_weight=True)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target)."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"ember.smooth_l1_loss: does not support negative values for beta, "
                           f"got {beta}")
    a, b = _pointwise_operands("smooth_l1_loss", input, target)
    diff = a - b
    distance = diff.abs()
    if beta == 0:
        return _reduce(distance, reduction)
    loss = (diff * diff * (0.5 / beta)).where(distance < beta, distance - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta) (d = input - target)."""
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError(f"ember.huber_loss: does not support non-positive values for delta, "
                           f"got {delta}")
    a, b = _pointwise_operands("huber_loss", input, target)
    diff = a - b
    distance = diff.abs()
    loss = (diff * diff * 0.5).where(distance < delta, (distance - 0.5 * delta) * delta)
    return _weighted("huber_loss", loss, input, weight, reduction, mean_by_weight=False)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(target * log(input) + (1 - target) * log(1 - input)), each log clamped to >= -100."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"ember.binary_cross_entropy: using a target size "
                         f"({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the "
                         f"same size.")
    _check_float("binary_cross_entropy", input, target)
    # Probabilities are data: checked eagerly, as PyTorch does.
    if peek((input < 0) | (input > 1)).any():
        raise RuntimeError(f"ember.binary_cross_entropy: all elements of input should be "
                           f"between 0 and 1 (input shape {list(input.shape)})")
    # PyTorch clamps each log at -100 so that input 0 or 1 gives a finite loss.
    log_p = input.log().clamp(min=-100.0)
    log_q = (1.0 - input).log().clamp(min=-100.0)
    loss = -(target * log_p + (1.0 - target) * log_q)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross entropy of sigmoid(input), computed stably; pos_weight scales positives."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"ember.binary_cross_entropy_with_logits: target size "
                         f"({list(target.shape)}) must be the same as input size "
                         f"({list(input.shape)})")
    _check_float("binary_cross_entropy_with_logits", input, target)
    # softplus(-x) = max(-x, 0) + log1p(exp(-|x|)) never overflows.
    softplus_neg = (-input).clamp(min=0.0) + (-input.abs()).exp().log1p()
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg
    else:
        log_weight = (pos_weight - 1.0) * target + 1.0
        loss = (1.0 - target) * input + log_weight * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence target * (log(target) - input), input being log-probabilities."""
    legacy = size_average is not None or reduce is not None
    reduction = _reduction(size_average, reduce, reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean" and not legacy:
        warnings.warn("ember.kl_div: reduction 'mean' divides the total loss by both the batch "
                      "size and the support size. 'batchmean' divides only by the batch size, "
                      "and aligns with the KL div math definition.", stacklevel=2)
    _check_float("kl_div", input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy: a zero target contributes zero, whatever log(0) is.
        positive = target > 0
        safe = target.where(positive, 1.0)
        loss = (target * safe.log()).where(positive, 0.0) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def _class_dim(input: Tensor, op: str) -> int:
    if input.ndim == 0:
        raise ValueError(f"ember.{op}: expected 1 or more dimensions (got 0), input shape []")
    return 0 if input.ndim == 1 else 1


def _check_class_target(op: str, input: Tensor, target: Tensor, ignore_index: int) -> None:
    """Shape, dtype and bounds checks for a target of class indices."""
    if target.dtype is not dtypes.int64:
        raise DTypeError(f"ember.{op}: expected target dtype to be Long (int64), but got "
                         f"{target.dtype.name} (input {_describe(input)}, target "
                         f"{_describe(target)})")
    if input.ndim == 1:
        if target.ndim > 1 or target.numel() != 1:
            raise ShapeError(f"ember.{op}: a 1-D input needs a 0-D target, got "
                             f"{_describe(input, target)}")
    elif input.shape[0] != (target.shape[0] if target.ndim else -1):
        raise ValueError(f"ember.{op}: expected input batch_size ({input.shape[0]}) to match "
                         f"target batch_size ({target.shape[0] if target.ndim else 'none'}), "
                         f"got {_describe(input, target)}")
    elif tuple(target.shape) != tuple(input.shape[:1] + input.shape[2:]):
        raise ShapeError(f"ember.{op}: expected target size "
                         f"{list(input.shape[:1] + input.shape[2:])}, got "
                         f"{_describe(input, target)}")
    classes = input.shape[_class_dim(input, op)]
    # Targets are data: an out-of-range class would be an out-of-bounds read, so check eagerly.
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if peek(bad).any():
        value = int(peek(target)[peek(bad)][0])
        raise IndexError(f"ember.{op}: target {value} is out of bounds for {classes} classes "
                         f"(input shape {list(input.shape)}, target shape {list(target.shape)})")


def _check_weight(op: str, input: Tensor, weight: Tensor | None, classes: int) -> None:
    if weight is None:
        return
    if weight.ndim != 1 or weight.shape[0] != classes:
        raise ShapeError(f"ember.{op}: weight tensor should be defined either for all {classes} "
                         f"classes or no classes but got weight tensor of shape: "
                         f"{list(weight.shape)}")
    if weight.dtype is not input.dtype:
        raise DTypeError(f"ember.{op}: expected weight dtype {input.dtype.name} (the input's), "
                         f"got {weight.dtype.name}")


def _class_weights(input: Tensor, target: Tensor, weight: Tensor | None,
                   ignored: Tensor) -> Tensor:
    """Per-target weight: weight[target], or 1, and 0 where the target is ignored."""
    if weight is None:
        return (~ignored).to(input.dtype)
    safe = target.where(~ignored, 0)
    return weight.gather(0, safe.reshape(-1)).reshape(target.shape).where(~ignored, 0.0)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -weight[t] * input[t] per target class t, over (N, C, d1, ...)."""
    reduction = _reduction(size_average, reduce, reduction)
    dim = _class_dim(input, "nll_loss")
    _check_class_target("nll_loss", input, target, ignore_index)
    _check_weight("nll_loss", input, weight, input.shape[dim])
    target = target.reshape(()) if input.ndim == 1 else target
    ignored = target == ignore_index
    safe = target.where(~ignored, 0)
    picked = input.gather(dim, safe.unsqueeze(dim)).squeeze(dim)
    w = _class_weights(input, target, weight, ignored)
    loss = -picked * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of softmax(input) over the class dim (1, or 0 for a 1-D input) against
    class indices or class probabilities (a target of the input's shape)."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"ember.cross_entropy: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing}")
    dim = _class_dim(input, "cross_entropy")
    _check_float("cross_entropy", input)
    classes = input.shape[dim]
    log_p = log_softmax(input, dim)
    if tuple(target.shape) == tuple(input.shape):
        return _cross_entropy_probs(log_p, target, weight, reduction, label_smoothing,
                                    ignore_index)
    loss = nll_loss(log_p, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return loss
    # Smoothing mixes in the uniform distribution: its term is -sum_c w[c] * log_p[c] / C.
    target = target.reshape(()) if input.ndim == 1 else target
    ignored = target == ignore_index
    weighted = log_p if weight is None else log_p * _along(weight, dim, input.ndim)
    smooth = (-weighted.sum(dim)).where(~ignored, 0.0)
    if reduction == "mean":
        smooth = smooth.sum() / _class_weights(input, target, weight, ignored).sum()
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def _along(weight: Tensor, dim: int, ndim: int) -> Tensor:
    """A per-class weight shaped to broadcast along `dim` of an ndim-D tensor."""
    return weight.reshape((-1,) + (1,) * (ndim - 1 - dim))


def _cross_entropy_probs(log_p: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                         label_smoothing: float, ignore_index: int) -> Tensor:
    """Cross entropy against a target of class probabilities."""
    if not target.dtype.is_floating_point:
        raise DTypeError(f"ember.cross_entropy: expected floating point type for target with "
                         f"class probabilities, got {target.dtype.name} (input "
                         f"{_describe(log_p)})")
    if ignore_index >= 0:
        raise RuntimeError(f"ember.cross_entropy: ignore_index is not supported for floating "
                         f"point target, got ignore_index={ignore_index}")
    dim = 0 if log_p.ndim == 1 else 1
    classes = log_p.shape[dim]
    _check_weight("cross_entropy", log_p, weight, classes)
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    terms = log_p * target
    if weight is not None:
        terms = terms * _along(weight, dim, log_p.ndim)
    if reduction == "none":
        return -terms.sum(dim)
    total = -terms.sum()
    if reduction == "sum":
        return total
    # The mean is over the samples (every position but the class one).
    return total / (log_p.numel() // classes) if log_p.numel() else total * float("nan")
