"""Utilities with torch.utils shapes: `ember.utils.data` holds datasets, samplers and DataLoader."""

from ember.utils import data

__all__ = ["data"]
