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


def test_outputs_start_on_a_cache_line():
    """Outputs are 64-byte aligned (NumPy promises 16), so vector stores never straddle lines;
    a view of one still keeps it from being recycled."""
    fn = ember.jit(lambda x: x.exp(), backend="llvm")
    x = ember.tensor(np.linspace(-1, 1, 100_000, dtype=np.float32))
    fn(x)
    out = fn(x)
    assert out.numpy().ctypes.data % 64 == 0
    tail = out.numpy()[1:]
    expected = tail.copy()
    del out
    fn(x * 2.0)
    np.testing.assert_array_equal(tail, expected)


def test_inputs_are_read_where_they_are_now():
    """The executable keeps the address of each input's last array (weakly): an array passed
    again is read with its new contents, and another array, even one reusing a freed array's
    id, is read at its own address."""
    fn = ember.jit(lambda x: x + 1.0, backend="llvm")
    fn(ember.zeros(1000))  # the traced call runs eagerly
    a = np.zeros(1000, np.float32)
    np.testing.assert_array_equal(fn(ember.from_numpy(a)).numpy(), 1.0)
    a += 1.0
    np.testing.assert_array_equal(fn(ember.from_numpy(a)).numpy(), 2.0)
    np.testing.assert_array_equal(fn(ember.from_numpy(np.full(1000, 5.0, np.float32))).numpy(),
                                  6.0)
    for value in range(20):  # freed arrays' ids come back: each must be read afresh
        np.testing.assert_array_equal(
            fn(ember.from_numpy(np.full(1000, value, np.float32))).numpy(), value + 1.0)


def test_outputs_start_half_a_page_from_the_first_input():
    """A new output array starts half a page (modulo a page, to a cache line) from the first
    input, so rows streamed from one into the other never share their low 12 address bits."""
    base = np.zeros(4 * 4096 + 1024, np.float32)
    for offset in (0, 16, 1000, 4000):  # floats: any page offset of the input
        x = base[offset:offset + 4 * 1024].reshape(4, 1024)
        fn = ember.jit(lambda v: v * 3.0, backend="llvm")
        fn(ember.from_numpy(x))  # the traced call runs eagerly
        out = fn(ember.from_numpy(x)).numpy()
        distance = (out.ctypes.data - x.ctypes.data) % 4096
        assert out.ctypes.data % 64 == 0 and 2048 - 64 < distance <= 2048, distance
        np.testing.assert_array_equal(out, x * 3.0)
