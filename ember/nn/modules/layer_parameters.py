"""Creating layer parameters and PyTorch's default initialisations shared by several layers."""

from __future__ import annotations

import math

from ember.frontend.ops.creation import empty
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter


def register_optional_parameter(module: Module, name: str, wanted: bool, shape, dtype=None,
                                device=None) -> None:
    """Register an uninitialised Parameter of `shape` under `name`, or None when not wanted."""
    param = Parameter(empty(shape, dtype=dtype, device=device)) if wanted else None
    module.register_parameter(name, param)


def reset_kaiming_uniform(weight: Parameter, bias: Parameter | None) -> None:
    """Linear and convolution defaults: Kaiming-uniform weight (a=sqrt(5)) and a bias from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def reset_affine(weight: Parameter | None, bias: Parameter | None) -> None:
    """Normalisation defaults: scale 1 and shift 0 (where the layer has them)."""
    if weight is not None:
        init.ones_(weight)
    if bias is not None:
        init.zeros_(bias)
