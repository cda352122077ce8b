"""Functional operations on tensors, each written with primitives through `dispatch.apply`."""
