"""Image transforms with torchvision's names, for NumPy images and Ember tensors (no PIL)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ember.frontend.ops.creation import from_numpy, get_default_dtype, tensor
from ember.frontend.tensor import Tensor
from ember.utils.data.collate import numpy_to_tensor

__all__ = ["Compose", "Lambda", "Normalize", "Resize", "ToTensor"]


class Compose:
    """Apply transforms one after another."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class Lambda:
    """Apply a user function as a transform."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ToTensor:
    """A NumPy image (H x W or H x W x C) as a C x H x W tensor; uint8 values scale to [0, 1]
    in the default float dtype, other dtypes keep their values and dtype (as in torchvision)."""

    def __call__(self, pic: np.ndarray) -> Tensor:
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"ToTensor: pic should be a NumPy ndarray (Ember has no PIL "
                            f"support), got {type(pic).__name__}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2/3 dimensional. Got {pic.ndim} "
                             f"dimensions.")
        chw = np.ascontiguousarray((pic[:, :, None] if pic.ndim == 2 else pic).transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            dtype = get_default_dtype()
            return from_numpy((chw / np.float64(255)).astype(dtype.numpy))
        return numpy_to_tensor(chw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """(x - mean[c]) / std[c] for each channel c of a float (..., C, H, W) tensor."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = list(mean) if isinstance(mean, Sequence) else [mean]
        self.std = list(std) if isinstance(std, Sequence) else [std]
        self.inplace = inplace

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Normalize: expected an ember Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"Normalize: input tensor should be a float tensor. Got {x.dtype}.")
        if x.ndim < 3:
            raise ValueError(f"Normalize: expected tensor to be a tensor image of size "
                             f"(..., C, H, W). Got tensor.size() = {tuple(x.shape)}.")
        mean = tensor(self.mean, dtype=x.dtype)
        std = tensor(self.std, dtype=x.dtype)
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {x.dtype}, leading to "
                             f"division by zero.")
        mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
        return x.sub_(mean).div_(std) if self.inplace else (x - mean) / std

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Resize:
    """Resize the last two dimensions of a float tensor image, by bilinear (PyTorch's
    align_corners=False) or nearest interpolation. `size` is (h, w), or an int that the smaller
    edge is matched to, keeping the aspect ratio. No antialiasing is applied, so downscaling
    differs from torchvision's antialiased default; upscaling matches it."""

    def __init__(self, size: int | Sequence[int], interpolation: str = "bilinear") -> None:
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"Resize: interpolation must be 'bilinear' or 'nearest', got "
                             f"{interpolation!r}")
        if isinstance(size, Sequence) and len(size) == 1:
            size = size[0]
        if not (isinstance(size, int) or (isinstance(size, Sequence) and len(size) == 2)):
            raise ValueError(f"Resize: size should be an int or a sequence of 1 or 2 ints, "
                             f"got {size!r}")
        self.size = size
        self.interpolation = interpolation

    def _output_size(self, h: int, w: int) -> tuple[int, int]:
        if not isinstance(self.size, int):
            return tuple(self.size)
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(self.size * long / short)
        return (self.size, new_long) if h <= w else (new_long, self.size)

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Resize: expected an ember Tensor (apply ToTensor first), got "
                            f"{type(x).__name__}")
        if x.ndim < 2 or not x.is_floating_point():
            raise TypeError(f"Resize: expected a float tensor of shape (..., H, W), got "
                            f"{x.dtype} {tuple(x.shape)}")
        h, w = x.shape[-2], x.shape[-1]
        out_h, out_w = self._output_size(h, w)
        x = self._resize_dim(x, x.ndim - 2, h, out_h)
        return self._resize_dim(x, x.ndim - 1, w, out_w)

    def _resize_dim(self, x: Tensor, dim: int, size: int, out: int) -> Tensor:
        """Interpolate along one dimension; the sample positions are constants of the shapes,
        so only gathers and a weighted sum touch the data (and stay differentiable)."""
        scale = size / out
        if self.interpolation == "nearest":
            idx = np.minimum(np.floor(np.arange(out) * scale).astype(np.int64), size - 1)
            return x.index_select(dim, from_numpy(idx))
        src = np.maximum((np.arange(out) + 0.5) * scale - 0.5, 0.0)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, size - 1)
        shape = [1] * x.ndim
        shape[dim] = out
        weight = tensor((src - lo).reshape(shape), dtype=x.dtype)
        a = x.index_select(dim, from_numpy(lo))
        b = x.index_select(dim, from_numpy(hi))
        return a + (b - a) * weight

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation})"
