"""The eager front end: Tensor, dtypes, devices, dispatch and autograd."""

from ember.frontend import methods as _methods  # binds the Tensor methods
from ember.frontend.tensor import Size, Tensor

__all__ = ["Size", "Tensor"]
