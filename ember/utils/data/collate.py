"""PyTorch's default collation: a list of samples becomes one batch with the samples' structure."""

from __future__ import annotations

import collections.abc
import copy
import re
from typing import Callable

import numpy as np

from ember.frontend.ops.creation import from_numpy, tensor
from ember.frontend.ops.shape import stack
from ember.frontend.tensor import Tensor
from ember.ir import dtypes

_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
          "found {}")
# NumPy dtype strings of text and object arrays, which never become tensors.
_STR_OBJ_DTYPE = re.compile("[SaUO]")
_EMBER_NUMPY_DTYPES = frozenset(d.numpy for d in dtypes.ALL_DTYPES)


def numpy_to_tensor(array: np.ndarray) -> Tensor:
    """`array` as a tensor, sharing memory when Ember has its dtype; narrower integer types
    (uint8, int16, ...) widen to int32/int64 because Ember has no such dtypes."""
    if array.dtype in _EMBER_NUMPY_DTYPES:
        return from_numpy(array)
    return tensor(array)


def _collate_tensors(batch, *, collate_fn_map):
    return stack(list(batch), 0)


def _collate_arrays(batch, *, collate_fn_map):
    if _STR_OBJ_DTYPE.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERROR.format(batch[0].dtype))
    return collate([numpy_to_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalars(batch, *, collate_fn_map):
    return tensor(list(batch))


def _collate_floats(batch, *, collate_fn_map):
    return tensor(list(batch), dtype=dtypes.float64)


def _collate_ints(batch, *, collate_fn_map):
    return tensor(list(batch))


def _collate_strings(batch, *, collate_fn_map):
    return batch


# Element type -> how a batch of it collates; exact types are looked up first, then
# `isinstance` in this order (so bool, a subclass of int, collates like int).
default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: _collate_tensors,
    np.ndarray: _collate_arrays,
    (np.bool_, np.number): _collate_numpy_scalars,
    float: _collate_floats,
    int: _collate_ints,
    str: _collate_strings,
    bytes: _collate_strings,
}


def collate(batch, *, collate_fn_map: dict | None = None):
    """Collate `batch` (a sequence of samples of one structure) using `collate_fn_map` for leaves,
    recursing through mappings, namedtuples and sequences."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, lambda key: collate([d[key] for d in batch],
                                                          collate_fn_map=collate_fn_map))
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map)
                           for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)]
        # Plain tuples become lists, as in PyTorch (kept there for backwards compatibility).
        return columns if isinstance(elem, tuple) else _rebuild_sequence(elem, columns)
    raise TypeError(_ERROR.format(elem_type))


def default_collate(batch):
    """Stack a list of samples into a batch: tensors, NumPy arrays and numbers become tensors
    with a new leading dimension; dicts, namedtuples, tuples and lists are collated per field."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Convert the NumPy arrays and scalars inside one sample to tensors, keeping its structure
    (the collate_fn when automatic batching is off)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _STR_OBJ_DTYPE.search(data.dtype.str) else numpy_to_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, lambda key: default_convert(data[key]))
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_mapping(elem, value_of: Callable):
    """A mapping of elem's type with the same keys and `value_of(key)` values."""
    values = {key: value_of(key) for key in elem}
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            # Copy, then update: the mapping type may carry more state than its items.
            clone = copy.copy(elem)
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _rebuild_sequence(elem, items: list):
    """A sequence of elem's type holding `items` (a plain list when the type cannot be rebuilt)."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(elem)(items)
    except TypeError:
        return items
