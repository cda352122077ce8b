"""The 8x8 handwritten digits bundled with scikit-learn: a small offline stand-in for MNIST."""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ember.datasets.vision import VisionDataset
from ember.frontend.ops.creation import from_numpy

# The fixed split: a permutation from this seed, the first 80% of it for training.
_SPLIT_SEED = 0
_TRAIN_FRACTION = 0.8


class Digits(VisionDataset):
    """scikit-learn's 1797 8x8 digit images (`sklearn.datasets.load_digits`, no download).

    `train=True` takes the first 80% (1437 images) of a fixed seeded permutation, `train=False`
    the remaining 360. Pixels (0..16 in the source) are rescaled to uint8 0..255, so ToTensor
    gives (1, 8, 8) float images in [0, 1] as it does for MNIST. `root` is accepted for
    torchvision compatibility and unused."""

    classes = [str(i) for i in range(10)]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        try:
            from sklearn.datasets import load_digits
        except ImportError as e:
            raise ImportError("ember.datasets.Digits needs scikit-learn "
                              "(pip install scikit-learn)") from e
        digits = load_digits()
        order = np.random.default_rng(_SPLIT_SEED).permutation(len(digits.target))
        n_train = int(len(order) * _TRAIN_FRACTION)
        rows = order[:n_train] if train else order[n_train:]
        self.train = train
        self.data = np.rint(digits.images[rows] * (255 / 16)).astype(np.uint8)
        self.targets = from_numpy(digits.target[rows].astype(np.int64))
