"""The base of the image datasets: (image, target) pairs passed through optional transforms."""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ember.frontend.tensor import Tensor
from ember.utils.data.dataset import Dataset


class VisionDataset(Dataset):
    """Images `data` (N x H x W uint8) with integer `targets`; subclasses fill both in."""

    data: np.ndarray
    targets: Tensor
    classes: list[str] = []

    def __init__(self, root: str | os.PathLike | None = None,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = os.fspath(os.path.expanduser(root)) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def __getitem__(self, index: int):
        """(image, target): the uint8 H x W image and the int label, each transformed if asked."""
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        return len(self.data)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform}")
        return "\n".join(lines)
