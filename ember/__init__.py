"""Ember: a PyTorch-shaped deep-learning framework with an MLIR-style compiler behind it."""

from ember import autograd, nn
from ember import optim
from ember import datasets, transforms, utils
from ember.frontend import cuda
from ember.frontend import methods as _methods  # binds the Tensor methods
from ember.frontend.device import device
from ember.frontend.jit import jit
from ember.frontend.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ember.frontend.ops.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy,
                                         full, full_like, get_default_dtype, linspace, ones,
                                         ones_like, scalar_tensor, set_default_dtype, tensor,
                                         zeros, zeros_like)
from ember.frontend.ops.elementwise import (abs, add, addcdiv, addcmul, atan2, ceil, clamp, cos,
                                            div, eq, erf, exp, expm1, floor, floor_divide, fmod,
                                            frac, ge, gt, isfinite, isinf, isnan, le, lerp, log,
                                            log1p, log2, log10, logical_and, logical_not,
                                            logical_or, logical_xor, lt, maximum, minimum, mul,
                                            ne, neg, pow, reciprocal, relu, remainder, round,
                                            rsqrt, sigmoid, sign, sin, sqrt, square, sub, tan,
                                            tanh, trunc, where)
from ember.frontend.ops.indexing import (gather, index_select, masked_fill, masked_select,
                                         nonzero, one_hot, scatter_add, take_along_dim)
from ember.frontend.ops.linalg import bmm, conv2d, dot, matmul, mm, outer, tril, triu
from ember.frontend.ops.promotion import result_type
from ember.frontend.ops.random import (Generator, bernoulli, initial_seed, manual_seed, rand,
                                       rand_like, randint, randint_like, randn, randn_like,
                                       randperm)
from ember.frontend.ops.reduction import (all, amax, amin, any, argmax, argmin, count_nonzero,
                                          cumsum, log_softmax, logsumexp, max, mean, min,
                                          norm, prod, softmax, std,
                                          std_mean, sum, var, var_mean)
from ember.frontend.ops.shape import (broadcast_tensors, broadcast_to, cat, chunk, clone, concat,
                                      concatenate, flatten, flip, hstack, movedim, narrow,
                                      permute, repeat, reshape, split, squeeze, stack, t, tile,
                                      transpose, unbind, unflatten, unsqueeze, vstack)
from ember.frontend.serialization import CheckpointError, load, save
from ember.frontend.tensor import Size, Tensor
from ember.ir.dtypes import DType as dtype
from ember.ir.dtypes import bfloat16, float16, float32, float64, int32, int64
from ember.ir.dtypes import bool_ as bool
from ember.ir.errors import DTypeError, ShapeError

float = float32
double = float64
half = float16
int = int32
long = int64

__version__ = "0.1.0"
