"""Convolution layers: Conv1d, Conv2d, ConvTranspose2d, with PyTorch's initialisation."""

from __future__ import annotations

from typing import Callable

from ember.frontend.ops.creation import empty
from ember.frontend.tensor import Tensor
from ember.nn.functional.conv import conv1d, conv2d, conv_transpose2d, ntuple, same_padding
from ember.nn.functional.vision import pad
from ember.nn.modules.layer_parameters import register_optional_parameter, reset_kaiming_uniform
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared parameters, checks, initialisation and repr of the convolution layers."""

    _dims: int
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding,
                 dilation, groups: int, bias: bool, padding_mode: str, output_padding=0,
                 device=None, dtype=None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(kernel_size, n, name, "kernel_size")
        self.stride = ntuple(stride, n, name, "stride")
        self.dilation = ntuple(dilation, n, name, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, name, "padding")
        self.output_padding = ntuple(output_padding, n, name, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        # F.pad amounts (last dimension first) for the non-zero padding modes.
        if self.padding == "valid":
            sides = [(0, 0)] * n
        elif self.padding == "same":
            sides = same_padding(self.kernel_size, self.dilation)
        else:
            sides = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = tuple(v for lo, hi in reversed(sides)
                                                      for v in (lo, hi))
        shape = (in_channels, out_channels // groups) if self._transposed \
            else (out_channels, in_channels // groups)
        self.weight = Parameter(empty(shape + self.kernel_size, dtype=dtype, device=device))
        register_optional_parameter(self, "bias", bias, out_channels, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform weights (a=sqrt(5)) and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias."""
        reset_kaiming_uniform(self.weight, self.bias)

    def _padded(self, x: Tensor) -> tuple[Tensor, object]:
        """The input and the conv padding: non-zero modes pad the input here, the conv none."""
        if self.padding_mode == "zeros":
            return x, self.padding
        return pad(x, self._reversed_padding_repeated_twice, self.padding_mode), 0

    def extra_repr(self) -> str:
        n = self._dims
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """A forward convolution: Conv1d and Conv2d differ only in `_dims` and `_conv`."""

    _conv: Callable[..., Tensor]

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        x, padding = self._padded(x)
        return self._conv(x, self.weight, self.bias, self.stride, padding, self.dilation,
                          self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) input."""

    _dims = 1
    _conv = staticmethod(conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C, H, W) input."""

    _dims = 2
    _conv = staticmethod(conv2d)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (the gradient of Conv2d w.r.t. its input, as a layer)."""

    _dims = 2
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device=device, dtype=dtype)

    def _output_padding(self, x: Tensor, output_size) -> tuple[int, int]:
        """The output_padding that makes the output `output_size` (torch's rule)."""
        if output_size is None:
            return self.output_padding
        sizes = tuple(output_size)[-2:]
        if len(sizes) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must have 2 or more elements, got "
                             f"{output_size!r}")
        padding = []
        for i, size in enumerate(sizes):
            smallest = ((x.shape[x.ndim - 2 + i] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            largest = smallest + self.stride[i] - 1
            if not smallest <= size <= largest:
                raise ValueError(f"ConvTranspose2d: requested an output size of {sizes}, but "
                                 f"valid sizes range from {smallest} to {largest} along "
                                 f"spatial dimension {i} (input shape {tuple(x.shape)})")
            padding.append(size - smallest)
        return tuple(padding)

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(x, output_size), self.groups,
                                self.dilation)
