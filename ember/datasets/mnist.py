"""MNIST and Fashion-MNIST from their IDX files under `root/<ClassName>/raw/` (no network)."""

from __future__ import annotations

import gzip
import os
from typing import Callable

import numpy as np

from ember.datasets.vision import VisionDataset
from ember.frontend.ops.creation import from_numpy

# IDX type codes (the third byte of the magic number) and their big-endian NumPy types.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """The array stored in an IDX file (gzip-compressed when the name ends in .gz)."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise RuntimeError(f"ember.datasets: cannot read IDX file {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RuntimeError(f"ember.datasets: {path} is not an IDX file (bad magic number "
                           f"{raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"ember.datasets: IDX file {path} is truncated in its header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise RuntimeError(f"ember.datasets: IDX file {path} holds {len(raw)} bytes, but its "
                           f"header (shape {shape}, {dtype}) implies {expected}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(VisionDataset):
    """The MNIST handwritten digits (60000 train / 10000 test 28x28 images).

    Reads `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
    `t10k-labels-idx1-ubyte` (each optionally `.gz`) from `root/<ClassName>/raw/`. Ember has no
    network access, so `download=True` only explains where the files must go when absent."""

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    _FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        paths = [self._find(name) for name in self._FILES[train]]
        if None in paths:
            missing = [os.path.join(self.raw_folder, n)
                       for n, p in zip(self._FILES[train], paths) if p is None]
            hint = ("download=True cannot fetch them: Ember has no network access. "
                    if download else "")
            raise RuntimeError(
                f"{type(self).__name__} dataset not found. {hint}Place these files (raw or "
                f"gzip-compressed with a .gz suffix) in {self.raw_folder}: "
                + ", ".join(missing))
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: images {paths[0]} (shape "
                               f"{images.shape}) and labels {paths[1]} (shape {labels.shape}) "
                               f"do not form a dataset of N x H x W images with N labels")
        self.data = images.astype(np.uint8)
        self.targets = from_numpy(labels.astype(np.int64))

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _find(self, name: str) -> str | None:
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        return None


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes with ten kinds of clothing."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
