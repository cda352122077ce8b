"""Random tensors from the counter-based `random_uniform` primitive and a seedable generator."""

from __future__ import annotations

import math

import numpy as np

from ember.frontend import tracing
from ember.frontend.dispatch import apply
from ember.frontend.ops.creation import _finish, _shape, get_default_dtype, scalar_tensor
from ember.frontend.tensor import Tensor
from ember.frontend.transfer import to_device
from ember.ir import dtypes


class Generator:
    """A seed and a counter offset: every draw takes the next block of counters."""

    def __init__(self, seed: int = 0) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream of numbers from `seed`."""
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._offset = 0
        return self

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The (seed, offset) pair as an int64 tensor."""
        from ember.frontend.ops.creation import tensor

        return tensor([self.signed_seed(),
                       self._offset], dtype=dtypes.int64)

    def set_state(self, state: Tensor) -> None:
        """Resume the stream from a state returned by get_state."""
        seed, offset = state.tolist()
        self._seed, self._offset = seed & 0xFFFFFFFFFFFFFFFF, offset

    def signed_seed(self) -> int:
        """The seed as the signed 64-bit integer that graphs carry."""
        return self._seed - (1 << 64) if self._seed >= 1 << 63 else self._seed

    def next_counters(self, count: int) -> tuple[Tensor, Tensor]:
        """The seed and offset for drawing `count` numbers, advancing the offset past them.

        Under tracing they are graph inputs (the generator's state at call time), not constants.
        """
        trace = tracing.ACTIVE
        counters = (trace.random_counters(self, count) if trace is not None else
                    (scalar_tensor(self.signed_seed(), dtypes.int64),
                     scalar_tensor(self._offset, dtypes.int64)))
        self._offset += count
        return counters


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


def _uniform(shape: tuple[int, ...], dtype: dtypes.DType, generator: Generator | None,
             device=None) -> Tensor:
    """Uniform samples drawn on `device` (the CPU if None): the same numbers on every device."""
    if not dtype.is_floating_point:
        raise TypeError(f"ember.rand: expected a floating dtype, got {dtype.name}")
    generator = generator or default_generator
    numel = math.prod(shape)
    seed, offset = generator.next_counters(numel)
    if device is not None:
        # The counters' device is where the primitive runs.
        seed, offset = to_device(seed, device), to_device(offset, device)
    return apply("random_uniform", seed, offset, shape=shape, dtype=dtype.name)


def rand(*size, generator: Generator | None = None, dtype: dtypes.DType | None = None,
         device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1)."""
    out = _uniform(_shape(size), dtype or get_default_dtype(), generator, device)
    return _finish(out, requires_grad, device)


def randn(*size, generator: Generator | None = None, dtype: dtypes.DType | None = None,
          device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples (Box-Muller transform of uniform pairs)."""
    dtype = dtype or get_default_dtype()
    shape = _shape(size)
    compute = dtypes.float64 if dtype is dtypes.float64 else dtypes.float32
    u = _uniform((2,) + shape, compute, generator, device)
    u1, u2 = u[0], u[1]
    radius = ((1.0 - u1).log() * -2.0).sqrt()
    out = radius * (u2 * (2.0 * math.pi)).cos()
    return _finish(out.to(dtype), requires_grad, device)


def randint(low, high=None, size=None, *, generator: Generator | None = None,
            dtype: dtypes.DType = dtypes.int64, device=None) -> Tensor:
    """Integers drawn uniformly from [low, high)."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # randint(high, size)
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("ember.randint: missing the size argument")
    if high <= low:
        raise RuntimeError(f"ember.randint: expected low < high, got low={low}, high={high}")
    u = _uniform(_shape([size]), dtypes.float64, generator, device)
    return _finish((u * (high - low) + low).floor().to(dtype), False, device)


def rand_like(x: Tensor, *, dtype=None, generator: Generator | None = None) -> Tensor:
    """Uniform samples with x's shape, dtype and device."""
    return rand(x.shape, dtype=dtype or x.dtype, generator=generator, device=x.device)


def randn_like(x: Tensor, *, dtype=None, generator: Generator | None = None) -> Tensor:
    """Normal samples with x's shape, dtype and device."""
    return randn(x.shape, dtype=dtype or x.dtype, generator=generator, device=x.device)


def randint_like(x: Tensor, low, high=None, *, dtype=None) -> Tensor:
    """Random integers with x's shape and device."""
    return randint(low, high, x.shape, dtype=dtype or x.dtype, device=x.device)


def randperm(n: int, *, generator: Generator | None = None,
             dtype: dtypes.DType = dtypes.int64) -> Tensor:
    """A random permutation of 0 .. n-1."""
    keys = _uniform((n,), dtypes.float64, generator)
    # Sorting is no primitive: a permutation is data, drawn eagerly like DataLoader's shuffles.
    return Tensor._wrap(np.argsort(keys._data, kind="stable").astype(dtype.numpy))


def bernoulli(p: Tensor, *, generator: Generator | None = None) -> Tensor:
    """1 with probability p, else 0, elementwise."""
    return (_uniform(tuple(p.shape), p.dtype, generator, p.device) < p).to(p.dtype)


def _fill_(x: Tensor, values: Tensor, op: str) -> Tensor:
    from ember.frontend.grad_mode import no_grad
    from ember.frontend.ops.inplace import assign

    with no_grad():
        return assign(x, values, op)


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Fill x in place with samples from U(a, b)."""
    u = rand(x.shape, dtype=x.dtype, generator=generator, device=x.device)
    return _fill_(x, u * (b - a) + a, "uniform_")


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fill x in place with samples from N(mean, std**2)."""
    z = randn(x.shape, dtype=x.dtype, generator=generator, device=x.device)
    return _fill_(x, z * std + mean, "normal_")


def bernoulli_(x: Tensor, p: float = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fill x in place with 1 (probability p) or 0."""
    u = rand(x.shape, generator=generator, device=x.device)
    return _fill_(x, (u < p).to(x.dtype), "bernoulli_")


def exponential_(x: Tensor, lambd: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill x in place with samples from Exp(lambd)."""
    u = rand(x.shape, dtype=x.dtype, generator=generator, device=x.device)
    return _fill_(x, (1.0 - u).log() * (-1.0 / lambd), "exponential_")

