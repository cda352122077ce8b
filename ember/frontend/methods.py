"""Tensor methods and operators, bound from the functional ops so each op is written once."""

from __future__ import annotations

from ember.frontend.device import device as Device
from ember.frontend.ops import creation, elementwise as ew, indexing, inplace, linalg
from ember.frontend.ops import random, reduction as red, shape
from ember.frontend.ops.promotion import as_operand
from ember.frontend.tensor import Tensor
from ember.frontend.transfer import to_device
from ember.ir import dtypes
from ember.ir.errors import DTypeError

_FUNCTIONS = {
    # elementwise
    "neg": ew.neg, "negative": ew.neg, "abs": ew.abs, "absolute": ew.abs, "sign": ew.sign,
    "exp": ew.exp, "log": ew.log, "log1p": ew.log1p, "expm1": ew.expm1, "sqrt": ew.sqrt,
    "rsqrt": ew.rsqrt, "sin": ew.sin, "cos": ew.cos, "tan": ew.tan, "tanh": ew.tanh,
    "sigmoid": ew.sigmoid, "erf": ew.erf, "reciprocal": ew.reciprocal, "floor": ew.floor,
    "ceil": ew.ceil, "round": ew.round, "trunc": ew.trunc, "frac": ew.frac,
    "logical_not": ew.logical_not, "logical_and": ew.logical_and, "logical_or": ew.logical_or,
    "logical_xor": ew.logical_xor, "add": ew.add, "sub": ew.sub, "subtract": ew.sub,
    "mul": ew.mul, "multiply": ew.mul, "div": ew.div, "divide": ew.div, "true_divide": ew.div,
    "floor_divide": ew.floor_divide, "pow": ew.pow, "maximum": ew.maximum,
    "minimum": ew.minimum, "remainder": ew.remainder, "fmod": ew.fmod, "atan2": ew.atan2,
    "eq": ew.eq, "ne": ew.ne, "lt": ew.lt, "le": ew.le, "gt": ew.gt, "ge": ew.ge,
    "greater": ew.gt, "less": ew.lt, "where": lambda x, cond, y: ew.where(cond, x, y),
    "clamp": ew.clamp, "clip": ew.clamp, "square": ew.square, "log2": ew.log2,
    "log10": ew.log10, "relu": ew.relu, "isnan": ew.isnan, "isinf": ew.isinf,
    "isfinite": ew.isfinite, "lerp": ew.lerp, "addcmul": ew.addcmul, "addcdiv": ew.addcdiv,
    # reductions
    "sum": red.sum, "prod": red.prod, "mean": red.mean, "var": red.var, "std": red.std,
    "amax": red.amax, "amin": red.amin, "max": red.max, "min": red.min, "argmax": red.argmax,
    "argmin": red.argmin, "logsumexp": red.logsumexp, "all": red.all, "any": red.any,
    "norm": red.norm, "softmax": red.softmax, "log_softmax": red.log_softmax,
    "cumsum": red.cumsum, "count_nonzero": red.count_nonzero,
    # shapes
    "reshape": shape.reshape, "view": shape.view, "view_as": shape.view_as,
    "reshape_as": shape.reshape_as, "flatten": shape.flatten, "unflatten": shape.unflatten,
    "squeeze": shape.squeeze, "unsqueeze": shape.unsqueeze, "permute": shape.permute,
    "transpose": shape.transpose, "swapaxes": shape.transpose, "t": shape.t,
    "movedim": shape.movedim, "expand": shape.expand, "expand_as": shape.expand_as,
    "broadcast_to": shape.broadcast_to, "contiguous": shape.contiguous, "clone": shape.clone,
    "narrow": shape.narrow, "flip": shape.flip, "split": shape.split, "chunk": shape.chunk,
    "unbind": shape.unbind, "repeat": shape.repeat, "tile": shape.tile,
    # linear algebra and indexing
    "matmul": linalg.matmul, "mm": linalg.mm, "bmm": linalg.bmm, "dot": linalg.dot,
    "outer": linalg.outer, "triu": linalg.triu, "tril": linalg.tril,
    "gather": indexing.gather, "scatter_add": indexing.scatter_add,
    "index_select": indexing.index_select, "masked_fill": indexing.masked_fill,
    "nonzero": indexing.nonzero, "masked_select": indexing.masked_select,
    "take_along_dim": indexing.take_along_dim,
    "new_zeros": lambda x, *size, dtype=None, device=None: creation.zeros(
        *size, dtype=dtype or x.dtype, device=device or x.device),
    "new_ones": lambda x, *size, dtype=None, device=None: creation.ones(
        *size, dtype=dtype or x.dtype, device=device or x.device),
    "new_full": lambda x, size, value, dtype=None, device=None: creation.full(
        size, value, dtype=dtype or x.dtype, device=device or x.device),
    "new_tensor": lambda x, data, dtype=None, device=None: creation.tensor(
        data, dtype=dtype or x.dtype, device=device or x.device),
    "new_empty": lambda x, *size, dtype=None, device=None: creation.zeros(
        *size, dtype=dtype or x.dtype, device=device or x.device),
}

for _name, _fn in _FUNCTIONS.items():
    setattr(Tensor, _name, _fn)


def _to(x: Tensor, *args, dtype: dtypes.DType | None = None, device=None,
        non_blocking: bool = False, copy: bool = False) -> Tensor:
    """x converted to a dtype and/or moved to a device, as PyTorch's overloads take them:
    `to(dtype)`, `to(device, dtype)`, `to(other)`; x itself when nothing changes (unless copy).
    Copies are synchronous, so non_blocking only exists for PyTorch's signature."""
    for a in args:
        if isinstance(a, dtypes.DType):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, int, Device)) and not isinstance(a, bool):
            device = a
        else:
            raise TypeError(f"ember.to: expected a dtype, a device or a tensor, got "
                            f"{type(a).__name__}")
    out = x if dtype is None or dtype is x.dtype else ew.cast(x, dtype)
    if device is not None:
        out = to_device(out, device)
    return shape.clone(x) if copy and out is x else out


def _type_conversion(dtype: dtypes.DType):
    def convert(x: Tensor) -> Tensor:
        return _to(x, dtype)

    convert.__doc__ = f"x converted to {dtype.name}."
    return convert


Tensor.to = _to
Tensor.type_as = lambda x, other: _to(x, other.dtype)
Tensor.cpu = lambda x: to_device(x, "cpu")
Tensor.cuda = lambda x, device=None, non_blocking=False: to_device(
    x, "cuda" if device is None else Device(device))
Tensor.float = _type_conversion(dtypes.float32)
Tensor.double = _type_conversion(dtypes.float64)
Tensor.half = _type_conversion(dtypes.float16)
Tensor.bfloat16 = _type_conversion(dtypes.bfloat16)
Tensor.int = _type_conversion(dtypes.int32)
Tensor.long = _type_conversion(dtypes.int64)
Tensor.bool = _type_conversion(dtypes.bool_)
Tensor.T = property(shape.matrix_transpose)
Tensor.mT = property(shape.batch_matrix_transpose)
Tensor.__getitem__ = indexing.getitem
Tensor.__setitem__ = indexing.setitem


def _reflected(fn):
    return lambda x, y: fn(y, x)


Tensor.__neg__ = ew.neg
Tensor.__pos__ = lambda x: x
Tensor.__abs__ = ew.abs
Tensor.__invert__ = lambda x: ew.logical_not(x) if x.dtype is dtypes.bool_ else -x - 1
Tensor.__add__, Tensor.__radd__ = ew.add, _reflected(ew.add)
Tensor.__sub__, Tensor.__rsub__ = ew.sub, _reflected(ew.sub)
Tensor.__mul__, Tensor.__rmul__ = ew.mul, _reflected(ew.mul)
Tensor.__truediv__, Tensor.__rtruediv__ = ew.div, _reflected(ew.div)
Tensor.__floordiv__, Tensor.__rfloordiv__ = ew.floor_divide, _reflected(ew.floor_divide)
Tensor.__mod__, Tensor.__rmod__ = ew.remainder, _reflected(ew.remainder)
Tensor.__pow__, Tensor.__rpow__ = ew.pow, _reflected(ew.pow)
Tensor.__matmul__, Tensor.__rmatmul__ = linalg.matmul, _reflected(linalg.matmul)


def _bool_operator(symbol: str, fn):
    """`&`, `|` and `^` on bool operands; integer bitwise operations are not primitives."""

    def operator(x, y) -> Tensor:
        for v in (x, y):
            if (v.dtype if isinstance(v, Tensor) else type(v)) not in (dtypes.bool_, bool):
                raise DTypeError(f"ember: the {symbol} operator is only supported on bool "
                                 f"tensors and Python bools (bitwise integer operations are not "
                                 f"implemented), got {_describe_operand(x)} {symbol} "
                                 f"{_describe_operand(y)}")
        return fn(x, y)

    return operator


def _describe_operand(v) -> str:
    return f"{v.dtype.name} {list(v.shape)}" if isinstance(v, Tensor) else type(v).__name__


Tensor.__and__ = Tensor.__rand__ = _bool_operator("&", ew.logical_and)
Tensor.__or__ = Tensor.__ror__ = _bool_operator("|", ew.logical_or)
Tensor.__xor__ = Tensor.__rxor__ = _bool_operator("^", ew.logical_xor)
Tensor.__eq__, Tensor.__ne__ = ew.eq, ew.ne
Tensor.__lt__, Tensor.__le__, Tensor.__gt__, Tensor.__ge__ = ew.lt, ew.le, ew.gt, ew.ge


def _inplace_method(name: str, fn):
    def method(x: Tensor, *args, **kwargs) -> Tensor:
        return inplace.update(x, fn, args, kwargs, name)

    method.__name__ = name
    method.__doc__ = f"In-place form of {name[:-1]}."
    return method


_INPLACE = {
    "add_": ew.add, "sub_": ew.sub, "mul_": ew.mul, "div_": ew.div, "pow_": ew.pow,
    "neg_": ew.neg, "abs_": ew.abs, "exp_": ew.exp, "log_": ew.log, "sqrt_": ew.sqrt,
    "sin_": ew.sin, "cos_": ew.cos, "tanh_": ew.tanh, "sigmoid_": ew.sigmoid, "relu_": ew.relu,
    "floor_": ew.floor, "ceil_": ew.ceil, "round_": ew.round, "clamp_": ew.clamp,
    "clip_": ew.clamp, "reciprocal_": ew.reciprocal, "remainder_": ew.remainder,
    "lerp_": ew.lerp,
    "addcmul_": ew.addcmul, "addcdiv_": ew.addcdiv, "square_": ew.square, "erf_": ew.erf,
    "masked_fill_": indexing.masked_fill, "log1p_": ew.log1p, "expm1_": ew.expm1,
    "rsqrt_": ew.rsqrt, "sign_": ew.sign, "trunc_": ew.trunc, "fmod_": ew.fmod,
    "tan_": ew.tan, "log2_": ew.log2, "log10_": ew.log10, "frac_": ew.frac, "atan2_": ew.atan2,
    "floor_divide_": ew.floor_divide, "clamp_min_": lambda x, m: ew.clamp(x, min=m),
    "clamp_max_": lambda x, m: ew.clamp(x, max=m), "logical_not_": ew.logical_not,
    "logical_and_": ew.logical_and, "logical_or_": ew.logical_or,
    "logical_xor_": ew.logical_xor, "eq_": ew.eq, "ne_": ew.ne, "lt_": ew.lt, "le_": ew.le,
    "gt_": ew.gt, "ge_": ew.ge,
}
for _name, _fn in _INPLACE.items():
    setattr(Tensor, _name, _inplace_method(_name, _fn))

Tensor.__iadd__ = Tensor.add_
Tensor.__isub__ = Tensor.sub_
Tensor.__imul__ = Tensor.mul_
Tensor.__itruediv__ = Tensor.div_
Tensor.__ipow__ = Tensor.pow_
Tensor.__imod__ = Tensor.remainder_
Tensor.__ifloordiv__ = Tensor.floor_divide_


def zero_(x: Tensor) -> Tensor:
    """Fill with zeros in place."""
    return inplace.assign(x, as_operand(0, x.dtype), "zero_")


def fill_(x: Tensor, value) -> Tensor:
    """Fill with `value` in place."""
    return inplace.assign(x, as_operand(value, x.dtype), "fill_")


def copy_(x: Tensor, src: Tensor) -> Tensor:
    """Copy src's values (broadcast, cast to x's dtype) into x in place."""
    return inplace.assign(x, src if src.dtype is x.dtype else ew.cast(src, x.dtype), "copy_")


Tensor.zero_ = zero_
Tensor.fill_ = fill_
Tensor.copy_ = copy_

Tensor.uniform_ = random.uniform_
Tensor.normal_ = random.normal_
Tensor.bernoulli_ = random.bernoulli_
Tensor.exponential_ = random.exponential_
