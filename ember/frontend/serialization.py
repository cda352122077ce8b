"""ember.save / ember.load: checkpoints as safetensors files, never pickle.

The tensors of the saved object are the file's tensors; the object's structure (dicts and their
key types and order, lists, tuples, numbers, strings, None) is JSON in the header's
`__metadata__`, with a placeholder naming each tensor. A flat dict of tensors (a state_dict)
uses its keys as tensor names, so `safetensors.torch.load_file` reads it straight into PyTorch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import struct
from collections import OrderedDict
from typing import Any, BinaryIO

import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy

from ember.frontend.tensor import Tensor
from ember.ir import dtypes

_STRUCTURE_KEY = "ember.structure"
_FORMAT_KEY = "ember.format"
_FORMAT_VERSION = "1"
_TAG = "__ember__"
# safetensors dtype codes Ember reads as they are; narrower integers are widened on load.
_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
           "I64": np.int64, "I32": np.int32, "BOOL": np.bool_, "I16": np.int16, "I8": np.int8,
           "U8": np.uint8, "U16": np.uint16, "U32": np.uint32}
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class CheckpointError(RuntimeError):
    """A file that ember.load cannot read as an Ember (safetensors) checkpoint."""


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Write `obj` (tensors in nested dicts, lists and tuples, with numbers, strings, None) to
    the path or binary file `f` as safetensors; paths are replaced atomically."""
    arrays: dict[str, np.ndarray] = {}
    if isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, Tensor)
                                     for k, v in obj.items()):
        structure = _encode_dict(obj, lambda k, v: _encode_tensor(v, k, arrays))
    else:
        structure = _Encoder(arrays).encode(obj, ())
    metadata = {_FORMAT_KEY: _FORMAT_VERSION,
                _STRUCTURE_KEY: json.dumps(structure, allow_nan=False, separators=(",", ":"))}
    data = safetensors.numpy.save(arrays, metadata=metadata)
    if hasattr(f, "write"):
        f.write(data)
    else:
        _atomic_write(os.fspath(f), data)


def load(f: str | os.PathLike | BinaryIO, map_location=None, *,
         weights_only: bool | None = None) -> Any:
    """Read an object written by ember.save (or any safetensors file, as a dict of tensors).
    Tensors load on the CPU; `weights_only` is accepted for PyTorch compatibility: loading
    never runs code whatever its value."""
    if map_location is not None and str(map_location) != "cpu":
        raise ValueError(f"ember.load: map_location={map_location!r} is not supported; "
                         f"tensors load on the CPU")
    if hasattr(f, "read"):
        name, data = getattr(f, "name", repr(f)), f.read()
    else:
        name = os.fspath(f)
        with open(name, "rb") as file:
            data = file.read()
    try:
        return _decode_file(data)
    except CheckpointError as e:
        raise CheckpointError(f"ember.load: {name} is not a valid checkpoint: {e}") from None


# --- writing --------------------------------------------------------------------------------


def _encode_tensor(t: Tensor, name: str, arrays: dict[str, np.ndarray]) -> dict:
    array = t.detach().cpu().numpy()
    arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
    node = {_TAG: "tensor", "name": name}
    if t.requires_grad:
        node["requires_grad"] = True
    return node


def _encode_dict(d: dict, encode_item) -> dict:
    return {_TAG: "odict" if isinstance(d, OrderedDict) else "dict",
            "keys": [_encode_key(k) for k in d],
            "values": [encode_item(k, v) for k, v in d.items()]}


def _encode_key(key) -> Any:
    if isinstance(key, tuple):
        return {_TAG: "tuple", "items": [_encode_key(k) for k in key]}
    if key is None or isinstance(key, (bool, int, str)):
        return key
    if isinstance(key, float):
        return _encode_float(key)
    raise TypeError(f"ember.save: dict keys must be str, int, float, bool, None or tuples of "
                    f"them, got {type(key).__name__}")


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {_TAG: "float", "value": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


class _Encoder:
    """Turns an object into its JSON structure, collecting tensors under path-derived names."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def _name(self, path: tuple) -> str:
        base = ".".join(str(p) for p in path) or "tensor"
        name, n = base, 1
        while name in self.arrays:
            n += 1
            name = f"{base}#{n}"
        return name

    def encode(self, obj, path: tuple) -> Any:
        if isinstance(obj, Tensor):
            return _encode_tensor(obj, self._name(path), self.arrays)
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return _encode_float(float(obj))
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            return self.encode(obj.item(), path)
        if isinstance(obj, list):
            return [self.encode(v, path + (i,)) for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {_TAG: "tuple", "items": [self.encode(v, path + (i,))
                                            for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            return _encode_dict(obj, lambda k, v: self.encode(v, path + (k,)))
        where = ".".join(str(p) for p in path) or "the top level"
        raise TypeError(f"ember.save: cannot save a {type(obj).__name__} (at {where}); "
                        f"checkpoints hold tensors, dicts, lists, tuples, numbers, strings and "
                        f"None")


def _atomic_write(path: str, data: bytes) -> None:
    """Write to a fresh file beside `path`, fsync it, then rename it over `path`: readers see
    the old file or the new one, never a partial one."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    # os.open with mode 0o666 lets the umask decide permissions, like an ordinary open().
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # Persist the rename itself; not every platform can fsync a directory.
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# --- reading --------------------------------------------------------------------------------


def _decode_file(data: bytes) -> Any:
    if len(data) < 8:
        raise CheckpointError(f"it is {len(data)} bytes long, shorter than a safetensors header")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise CheckpointError(f"the header claims {header_len} bytes but the file has only "
                              f"{len(data) - 8} after the length field (truncated or not "
                              f"safetensors)")
    try:
        header = json.loads(data[8:8 + header_len])
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"the safetensors header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError("the safetensors header is not a JSON object")
    try:
        entries = safetensors.deserialize(data)
    except Exception as e:  # safetensors raises its own error types for every kind of damage
        raise CheckpointError(f"safetensors rejected it ({e})") from None
    tensors = {name: _to_tensor(name, entry) for name, entry in entries}
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or _STRUCTURE_KEY not in metadata:
        # A plain safetensors file (from PyTorch, say): its tensors by name, in header order.
        return OrderedDict((k, tensors[k]) for k in header if k != "__metadata__")
    if metadata.get(_FORMAT_KEY) != _FORMAT_VERSION:
        raise CheckpointError(f"unknown ember checkpoint format {metadata.get(_FORMAT_KEY)!r}")
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except (ValueError, RecursionError, TypeError) as e:
        raise CheckpointError(f"its structure metadata is not valid JSON ({e})") from None
    try:
        return _Decoder(tensors).decode(structure)
    except RecursionError:
        raise CheckpointError("its structure metadata is nested too deeply") from None


def _to_tensor(name: str, entry: dict) -> Tensor:
    code = entry["dtype"]
    if code not in _DTYPES:
        raise CheckpointError(f"tensor {name!r} has dtype {code}, which Ember cannot represent")
    array = np.frombuffer(entry["data"], _DTYPES[code]).reshape(entry["shape"])
    # Narrow integer types have no Ember dtype: widen them losslessly.
    return Tensor._wrap(array.astype(dtypes.from_numpy(array.dtype).numpy, copy=False))


class _Decoder:
    """Rebuilds the saved object from its JSON structure, rejecting anything malformed."""

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        self.tensors = tensors

    def decode(self, node) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        tag = node.get(_TAG) if isinstance(node, dict) else None
        if tag == "tensor":
            name = node.get("name")
            if name not in self.tensors:
                raise CheckpointError(f"its structure names a tensor {name!r} that the file "
                                      f"does not hold")
            t = self.tensors[name]
            if node.get("requires_grad") is not True:
                return t
            if not t.is_floating_point():
                raise CheckpointError(f"tensor {name!r} of dtype {t.dtype.name} is marked as "
                                      f"requiring grad")
            return t.requires_grad_()
        if tag == "tuple" and isinstance(node.get("items"), list):
            return tuple(self.decode(v) for v in node["items"])
        if tag == "float" and node.get("value") in _NONFINITE:
            return _NONFINITE[node["value"]]
        if tag in ("dict", "odict") and isinstance(node.get("keys"), list) \
                and isinstance(node.get("values"), list) \
                and len(node["keys"]) == len(node["values"]):
            keys = [self._key(k) for k in node["keys"]]
            values = [self.decode(v) for v in node["values"]]
            return (OrderedDict if tag == "odict" else dict)(zip(keys, values))
        raise CheckpointError(f"its structure metadata has an unrecognised node "
                              f"{json.dumps(node)[:80]}")

    def _key(self, node) -> Any:
        key = self.decode(node)
        try:
            hash(key)
        except TypeError:
            raise CheckpointError(f"its structure metadata has an unhashable dict key "
                                  f"{json.dumps(node)[:80]}") from None
        return key
