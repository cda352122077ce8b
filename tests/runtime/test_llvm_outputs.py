"""The llvm executable recycles output arrays only once nothing references them."""

import numpy as np

import ember


def test_held_outputs_are_never_overwritten_and_dropped_ones_are_reused():
    fn = ember.jit(lambda x: x * 2.0, backend="llvm")
    x = ember.tensor(np.arange(4096, dtype=np.float32))
    fn(x)  # the traced call runs eagerly
    first = fn(x)
    view = first.numpy()[10:]  # a NumPy view keeps the array referenced too
    addresses = {first.numpy().ctypes.data}
    del first
    second = fn(x + 1.0)
    assert second.numpy().ctypes.data not in addresses
    np.testing.assert_array_equal(view, np.arange(10, 4096, dtype=np.float32) * 2.0)
    addresses.add(second.numpy().ctypes.data)
    del second, view
    third = fn(x + 2.0)
    assert third.numpy().ctypes.data in addresses  # both were free: one is recycled
    np.testing.assert_array_equal(third.numpy(), (np.arange(4096) + 2.0) * 2.0)
