"""Exceptions raised when an operation is given operands it cannot accept."""


class ShapeError(RuntimeError, ValueError):
    """Operand shapes (or shape-like attributes) are invalid for an operation."""


class DTypeError(RuntimeError, TypeError):
    """Operand dtypes are invalid for an operation."""
