"""The `"llvm"` backend: graphs compiled to native code for this CPU, one foreign call a run."""

from __future__ import annotations

import ctypes
import math
import sys
import threading
import weakref
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from ember.codegen.llvm.translate import ALIGNMENT, PAGE_BYTES
from ember.codegen.llvm_cpu import CpuKernel, compile_graph
from ember.ir.core import Operation, functions
from ember.runtime.status import index_error


SPARES = 2  # output arrays kept per output for recycling
_BUFFER_DTYPES = frozenset("?bBhHiIlLqQfd")


class LlvmExecutable:
    """Runs a compiled kernel: inputs, then outputs, then a status buffer, then the kernel's
    scratch arena, by pointer.

    The pointer array and the status buffer are built once. Each output is written into an
    array that no one else references any more, recycled from earlier calls, or else a fresh
    one, always starting on a cache line (compiled kernels assume it of their results: see
    `lower-to-loops`). Large results then cost neither an allocation nor first-touch page
    faults per call, and an array a caller still holds is never overwritten. Recycled arrays
    keep their address beside them, and so do inputs that are this kernel's earlier outputs and
    (weakly) the array last passed for each input (a training step's parameters): reading
    `array.ctypes.data` costs more than a microsecond. A result the kernel stores into an
    input's buffer (`donate-buffers`) is that input's array, updated in place; an input that
    may not be written (read-only, or sharing memory with another input) is copied first.
    Calls from several threads take turns (the foreign call releases the GIL, and the pointer
    array is shared).
    """

    def __init__(self, kernel: CpuKernel, input_count: int) -> None:
        self.kernel = kernel
        self.inputs = kernel.arguments[:input_count]
        self.outputs = kernel.arguments[input_count:-1]
        # (result index, input index) of the results returned in an input's buffer
        self._donated = sorted((position - input_count, argument)
                               for position, argument in kernel.results_in_arguments)
        self._call = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(kernel.address)
        # The arguments' pointers, then the scratch arena's (allocated once, for every call).
        self._pointers = (ctypes.c_void_p * (len(kernel.arguments) + 1))()
        self._scratch = _aligned_empty((kernel.scratch_bytes,), np.uint8)
        self._pointers[-1] = self._scratch.ctypes.data
        self._input_specs = [(t.dtype.numpy, math.prod(t.shape)) for t in self.inputs]
        self._output_specs = [(t.shape, t.dtype.numpy) for t in self.outputs]
        # Outputs of a page or more start half a page from the first input (`_aligned_empty`).
        self._paged = [bool(self.inputs) and t.nbytes >= PAGE_BYTES for t in self.outputs]
        self._status = np.zeros(4, np.int64)
        self._pointers[-2] = self._status.ctypes.data
        self._status_word = memoryview(self._status)  # reads a Python int: no NumPy scalar
        # Per output: (array, address) pairs handed out lately; and the same pairs by array id.
        self._spares: list[list[tuple[np.ndarray, int]]] = [[] for _ in self.outputs]
        self._addresses: dict[int, tuple[np.ndarray, int]] = {}
        # Per input: the array passed last (weakly: it is the caller's) and its address, for
        # inputs passed again (parameters updated in place, a fixed batch).
        self._last_inputs: list[tuple[weakref.ref, int] | None] = [None] * len(self.inputs)
        self._lock = threading.Lock()

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} inputs, got {len(inputs)}")
        with self._lock:
            arrays = self._bind_inputs(inputs)  # converted inputs live until the call returns
            if self._donated:
                self._protect_donated(arrays)
            outputs = self._bind_outputs(len(arrays))
            self._call(self._pointers)
            if self._status_word[0]:
                self._raise_status()
        for result, argument in self._donated:
            outputs.insert(result, arrays[argument])
        return outputs

    def _protect_donated(self, arrays: list[np.ndarray]) -> None:
        """Replace each input the kernel writes by a copy if writing it in place could be seen
        through another input, or is not allowed."""
        roots = Counter(id(_owner(a)) for a in arrays)
        for _, slot in self._donated:
            array = arrays[slot]
            if array.flags.writeable and roots[id(_owner(array))] == 1:
                continue
            copy = _aligned_empty(array.shape, array.dtype)
            np.copyto(copy, array)
            arrays[slot] = copy
            self._pointers[slot] = _address(copy)

    def _bind_inputs(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The inputs as C-contiguous arrays of the kernel's dtypes, their pointers stored."""
        arrays = []
        for slot, (array, (dtype, size)) in enumerate(zip(inputs, self._input_specs)):
            if array.dtype != dtype or not array.flags.c_contiguous:
                array = np.ascontiguousarray(array, dtype=dtype)
            if array.size != size:
                raise ValueError(f"input of shape {array.shape} passed for {self.inputs[slot]}")
            arrays.append(array)
            known = self._addresses.get(id(array))
            if known is not None and known[0] is array:
                self._pointers[slot] = known[1]
                continue
            last = self._last_inputs[slot]
            if last is None or last[0]() is not array:
                last = self._last_inputs[slot] = (weakref.ref(array), _address(array))
            self._pointers[slot] = last[1]
        return arrays

    def _bind_outputs(self, first_slot: int) -> list[np.ndarray]:
        outputs = []
        for index, (spec, spares) in enumerate(zip(self._output_specs, self._spares)):
            pair = _unreferenced(spares)
            if pair is None:
                array = _aligned_empty(*spec,
                                       beside=self._pointers[0] if self._paged[index] else None)
                pair = (array, _address(array))
                self._addresses[id(array)] = pair
            # The last SPARES arrays handed out: one the caller may still hold (a gradient
            # until the next step replaces it), one it has dropped by the call after.
            spares.append(pair)
            for dropped in spares[:-SPARES]:
                del self._addresses[id(dropped[0])]
            del spares[:-SPARES]
            outputs.append(pair[0])
            self._pointers[first_slot + index] = pair[1]
        return outputs

    def _raise_status(self) -> None:
        error = index_error(self._status, self.kernel.error_ops)
        self._status[:] = 0
        raise error

    def stage_texts(self) -> dict[str, Callable[[], str]]:
        """This kernel's stages for `Lowered.as_text`, printed on demand: the loops IR, the
        optimised LLVM IR and the host assembly."""
        kernel = self.kernel
        return {"loops": lambda: str(kernel.loops), "llvm": lambda: kernel.optimized_ir,
                "asm": lambda: kernel.assembly}


def _unreferenced(pairs: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, int] | None:
    """A (array, address) pair of the list whose array nothing else references (views and
    Tensors of an array hold a reference to it, or to the buffer it views), removed from the
    list; None if there is none."""
    for i in range(len(pairs)):
        array = pairs[i][0]
        # Counted: the pair's reference (the array's, for its base) and getrefcount's argument.
        if sys.getrefcount(array) == 3 and (array.base is None
                                            or sys.getrefcount(array.base) == 2):
            return pairs.pop(i)
    return None


def _owner(array: np.ndarray):
    """The object owning `array`'s memory (NumPy points every view at it)."""
    return array if array.base is None else array.base


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype,
                   beside: int | None = None) -> np.ndarray:
    """An uninitialised array whose data starts on a cache line (NumPy only promises 16 bytes
    for large arrays: vector loads of them would straddle lines); with `beside` (an address),
    half a page from it modulo a page.

    A kernel streaming rows of 4 KiB from an input into a result loads and stores addresses
    that agree in their low 12 bits all along when the two start at the same page offset, and
    x86 cores then hold loads back behind stores they only seem to depend on."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    period = ALIGNMENT if beside is None else PAGE_BYTES
    raw = np.empty(nbytes + period, np.uint8)
    target = 0 if beside is None else (beside + PAGE_BYTES // 2) & -ALIGNMENT
    start = (target - raw.ctypes.data) % period
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _address(array: np.ndarray) -> int:
    """The address of an array's first element (the fast way for writable arrays of the
    dtypes the buffer protocol knows: not bfloat16 or float16)."""
    if array.flags.writeable and array.size and array.dtype.char in _BUFFER_DTYPES:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    return array.ctypes.data


def compile_module(module: Operation) -> LlvmExecutable:
    """Compile a graph module's function to native code."""
    func = functions(module)[0]
    return LlvmExecutable(compile_graph(module), len(func.regions[0].blocks[0].arguments))
