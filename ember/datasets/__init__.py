"""Datasets with torchvision's shapes: images reach transforms as NumPy uint8 arrays (no PIL)."""

from ember.datasets.digits import Digits
from ember.datasets.mnist import MNIST, FashionMNIST
from ember.datasets.vision import VisionDataset

__all__ = ["Digits", "FashionMNIST", "MNIST", "VisionDataset"]
