"""Layers: each a Module written with Tensor operations."""
