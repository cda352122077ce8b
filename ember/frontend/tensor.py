"""The eager Tensor: a NumPy or device buffer, PyTorch's view and version semantics, and
autograd state.

A CPU tensor's `_array` is a NumPy array; a CUDA tensor's is a `DeviceArray` (device buffer,
shape, dtype, strides) with the same metadata names, so what only reads metadata is written
once. Reading a CUDA tensor's values (`.item()`, `.tolist()`, printing, `.cpu()`) copies them to
the host after the kernels that compute them have finished.

Operations live in `ember.frontend.ops` and are attached as methods by `ember.frontend.methods`;
this module holds only what every tensor is.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ember.frontend import tracing
from ember.frontend.autograd.node import AccumulateGrad
from ember.frontend.device import CPU, device as Device
from ember.frontend.storage import Storage
from ember.ir import dtypes
from ember.ir.types import TensorType
from ember.runtime.cuda.array import DeviceArray


class Tensor:
    """A multi-dimensional array with PyTorch's names and semantics, stored as a NumPy array
    (CPU) or a device array (CUDA)."""

    __array_priority__ = 1000  # so `ndarray + Tensor` defers to Tensor.__radd__

    def __new__(cls, *args) -> "Tensor":
        """PyTorch's legacy constructor: `Tensor(data)` copies data as float32, `Tensor(*sizes)`
        makes a float32 tensor of that shape (zero-filled); `Tensor()` is empty."""
        from ember.frontend.ops.creation import tensor, zeros

        if len(args) == 1 and not isinstance(args[0], int):
            source = tensor(args[0], dtype=dtypes.float32)
        else:
            source = zeros(*(args or (0,)), dtype=dtypes.float32)
        return cls._wrap(source._array)

    def __init__(self, *args) -> None:
        """Construction happens in __new__."""

    @classmethod
    def _wrap(cls, data: "np.ndarray | DeviceArray", requires_grad: bool = False) -> "Tensor":
        """A new tensor owning the array `data` (no copy)."""
        t = object.__new__(cls)
        t._array = data
        trace = tracing.ACTIVE
        if trace is not None:
            t._trace_id = trace.id
        t._dtype = dtypes.from_numpy(data.dtype)
        t._storage = Storage()
        t._base = None
        t._view_ops = ()
        t._view_version = 0
        t._grad_fn = None
        t._accumulator = None
        t._retains_grad = False
        t._requires_grad = requires_grad
        t._grad = None
        return t

    @property
    def _data(self) -> np.ndarray:
        """The values, for code that computes with them in Python (a trace cannot record it).

        For a CUDA tensor this is a host copy: writing into it does not change the tensor.
        """
        trace = tracing.ACTIVE
        if trace is not None:
            trace.on_value_read(self)
        if isinstance(self._array, np.ndarray):
            return self._array
        return self._array.to_host()

    @property
    def grad(self) -> "Tensor | None":
        """The gradient accumulated by backward, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        self._grad = value
        trace = tracing.ACTIVE
        if trace is not None:
            trace.record_grad(self, value)

    def _become_view_of(self, source: "Tensor", op: str, attrs: dict[str, Any]) -> None:
        """Mark this tensor as a view of `source`'s storage made by primitive `op`."""
        self._storage = source._storage
        self._base = source._base if source._base is not None else source
        self._view_ops = source._view_ops + ((op, attrs),)
        self._view_version = self._storage.version

    # --- metadata -------------------------------------------------------------------------

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def shape(self) -> "Size":
        return Size(self._array.shape)

    @property
    def type(self) -> TensorType:
        """The IR type of this tensor: shape and dtype."""
        return TensorType(self._array.shape, self._dtype)

    @property
    def device(self) -> Device:
        """Where the values live: cpu, or cuda:N."""
        if isinstance(self._array, np.ndarray):
            return CPU
        return Device("cuda", self._array.device.index)

    @property
    def is_cuda(self) -> bool:
        return not isinstance(self._array, np.ndarray)

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU (as PyTorch's)."""
        return self._array.device.index if self.is_cuda else -1

    @property
    def ndim(self) -> int:
        return self._array.ndim

    def dim(self) -> int:
        """Number of dimensions."""
        return self._array.ndim

    def size(self, dim: int | None = None):
        """The shape, or the size of one dimension."""
        if dim is None:
            return self.shape
        return self._array.shape[_wrap_dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        """Number of elements."""
        return int(self._array.size)

    def nelement(self) -> int:
        """Number of elements."""
        return int(self._array.size)

    def element_size(self) -> int:
        """Bytes per element."""
        return self._array.itemsize

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point type."""
        return self.dtype.is_floating_point

    def is_contiguous(self) -> bool:
        """Whether elements are laid out in row-major order without gaps."""
        if self.is_cuda:
            return self._array.is_contiguous
        return bool(self._array.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        """Steps in elements between neighbours along each dimension."""
        strides = tuple(s // self._array.itemsize for s in self._array.strides)
        return strides if dim is None else strides[_wrap_dim(dim, self.ndim, "stride")]

    def data_ptr(self) -> int:
        """Address of the first element (a device address for a CUDA tensor)."""
        return self._array.ptr if self.is_cuda else self._array.ctypes.data

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    # --- autograd state -------------------------------------------------------------------

    @property
    def grad_fn(self):
        """The node that produced this tensor, or None for leaves."""
        self._refresh_view()
        return self._grad_fn

    @property
    def requires_grad(self) -> bool:
        """Whether gradients are computed for this tensor."""
        self._refresh_view()
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, "
                               f"got {self.dtype.name}")
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        self._requires_grad = bool(value)

    def _refresh_view(self) -> None:
        # A view whose base was written in place since the view was made must take the base's
        # new history, as PyTorch's views do.
        if (self._base is not None and self._view_version != self._storage.version
                and self._base.requires_grad):
            self._regenerate_view_history()

    def _regenerate_view_history(self) -> None:
        """Point this view's history at its base's current history (after in-place writes)."""
        from ember.frontend.grad_mode import enable_grad
        from ember.frontend.ops.inplace import replay_view

        with enable_grad():
            self._grad_fn = replay_view(self._base, self._view_ops)._grad_fn
        self._requires_grad = True
        self._view_version = self._storage.version

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        return self._storage.version

    def _gradient_edge(self):
        """The node that receives this tensor's gradient, or None if it needs none."""
        if not self.requires_grad:
            return None
        grad_fn = self.grad_fn
        if grad_fn is not None:
            return grad_fn
        if self._accumulator is None:
            self._accumulator = AccumulateGrad(self)
        return self._accumulator

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set requires_grad on a leaf in place."""
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf or self._retains_grad:
            return
        self._retains_grad = True
        self.grad_fn.retained = self

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def _set_retained_grad(self, g: "Tensor", create_graph: bool) -> None:
        g = g if create_graph else g.detach()
        self.grad = g.clone() if self.grad is None else self.grad + g

    def register_hook(self, hook: Callable) -> Callable:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces
        it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        self._gradient_edge().pre_hooks.append(hook)
        return hook

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`."""
        from ember.frontend.autograd.functions import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                 inputs=inputs)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's storage, cut from the autograd graph."""
        t = Tensor._wrap(self._array)
        t._storage = self._storage
        if tracing.ACTIVE is not None:
            tracing.ACTIVE.alias(t, self)
        return t

    def detach_(self) -> "Tensor":
        """Cut this tensor from the autograd graph in place."""
        self._grad_fn = None
        self._base = None
        self._view_ops = ()
        self._requires_grad = False
        return self

    @property
    def data(self) -> "Tensor":
        """This tensor's values without autograd history (shares storage)."""
        return self.detach()

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._array = value._array
        self._dtype = value._dtype
        self._storage = value._storage
        if tracing.ACTIVE is not None:
            tracing.ACTIVE.rebind(self, value)

    # --- conversion -----------------------------------------------------------------------

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a NumPy array sharing memory with this (CPU) tensor; `force=True`
        also detaches and copies a CUDA tensor to the host, as PyTorch's."""
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        if not force:
            self._check_on_cpu("numpy")
        return self._data

    def __array__(self, dtype=None, copy=None):
        self._check_on_cpu("__array__")
        return self._data if dtype is None else self._data.astype(dtype)

    def _check_on_cpu(self, what: str) -> None:
        if self.is_cuda:
            raise TypeError(f"ember.{what}: can't convert {self.device} device type tensor to "
                            f"numpy. Use Tensor.cpu() to copy the tensor to host memory first.")

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._array.size != 1:
            raise RuntimeError(f"a Tensor with {self._array.size} elements cannot be converted "
                               f"to Scalar")
        value = self._data.reshape(())[()]
        if self.dtype.is_floating_point:
            return float(value)
        return bool(value) if self.dtype is dtypes.bool_ else int(value)

    def tolist(self):
        """The values as (nested) Python lists of numbers."""
        if self.dtype in (dtypes.float16, dtypes.bfloat16):
            return self._data.astype(np.float32).tolist()
        return self._data.tolist()

    def __bool__(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._array.size} elements is "
                               f"ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.dtype is dtypes.bool_ or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        from ember.frontend.printing import format_tensor

        return format_tensor(self)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._array.shape[0]))

    def __deepcopy__(self, memo: dict) -> "Tensor":
        """A copy with its own storage, requires_grad and (copied) grad; leaves only, as in
        PyTorch (copy.deepcopy would otherwise try to pickle, which tensors refuse)."""
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        if id(self) in memo:
            return memo[id(self)]
        if self.is_cuda:
            from ember.frontend.cuda_eager import copy

            new = Tensor._wrap(copy(self._array), self.requires_grad)
        else:
            new = Tensor._wrap(self._data.copy(), self.requires_grad)
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        return new

    def __reduce_ex__(self, protocol):
        raise TypeError("ember tensors are not pickled; use ember.save (safetensors)")


class Size(tuple):
    """A tensor's shape: a tuple of ints, printed like torch.Size."""

    def numel(self) -> int:
        """Product of the sizes."""
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"


def _wrap_dim(dim: int, ndim: int, op: str) -> int:
    """`dim` made non-negative; IndexError naming `op` when it is out of range."""
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(f"ember.{op}: dimension out of range (expected to be in range of "
                         f"[{-bound}, {bound - 1}], but got {dim})")
    return dim % bound

