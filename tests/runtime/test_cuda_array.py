"""DeviceArray over the fake driver: host round trips, views sharing the buffer, writes."""

import ml_dtypes
import numpy as np
import pytest

from cuda_fake import FakeDriver
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.device import CudaDevice

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16, np.int32, np.int64, np.bool_]


@pytest.fixture
def device():
    return CudaDevice(FakeDriver(), 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_host_round_trip(device, dtype):
    host = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    array = DeviceArray.from_host(device, host)
    assert array.shape == (2, 3, 4) and array.dtype == np.dtype(dtype)
    assert array.strides == host.strides and array.is_contiguous
    back = array.to_host()
    assert back.dtype == host.dtype and np.array_equal(back, host)


def test_empty_and_zero_size(device):
    array = DeviceArray.from_host(device, np.zeros((0, 3), np.float32))
    assert array.size == 0 and array.to_host().shape == (0, 3)


VIEWS = [
    ("permute", lambda a: a.permute((2, 0, 1)), lambda h: h.transpose(2, 0, 1)),
    ("slice", lambda a: a.slice((0, 1, 1), (2, 3, 4), (1, 1, 2)), lambda h: h[0:2, 1:3, 1:4:2]),
    ("broadcast", lambda a: a.slice((0, 0, 0), (1, 3, 4), (1, 1, 1)).broadcast_to((5, 2, 3, 4)),
     lambda h: np.broadcast_to(h[0:1], (5, 2, 3, 4))),
    ("reshape", lambda a: a.reshape((6, 4)), lambda h: h.reshape(6, 4)),
]


@pytest.mark.parametrize("name,view,reference", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_share_the_buffer_and_read_like_numpy(device, name, view, reference):
    host = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    array = DeviceArray.from_host(device, host)
    v = view(array)
    expected = reference(host)
    assert v.buffer is array.buffer and v.shape == expected.shape
    assert np.array_equal(v.to_host(), expected)
    assert np.array_equal(v.span_elements().to_host()[v.element_offsets()], expected)


def test_reshape_of_a_strided_array_is_a_view_where_the_layout_allows(device):
    host = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    array = DeviceArray.from_host(device, host)
    column = array.slice((0, 0, 1), (2, 3, 2), (1, 1, 1))  # x[:, :, 1:2]
    merged = column.reshape((6,))
    assert merged is not None and merged.buffer is array.buffer
    assert np.array_equal(merged.to_host(), host[:, :, 1:2].reshape(6))
    split = array.slice((0, 0, 0), (2, 3, 4), (1, 1, 2)).reshape((2, 3, 1, 2))
    assert np.array_equal(split.to_host(), host[:, :, ::2].reshape(2, 3, 1, 2))
    assert array.permute((2, 1, 0)).reshape((24,)) is None  # the order of elements changes


def test_write_through_a_strided_view_keeps_other_elements(device):
    host = np.arange(12, dtype=np.int64).reshape(3, 4)
    array = DeviceArray.from_host(device, host)
    array.slice((0, 1), (3, 4), (2, 2)).write_from_host(np.array([[-1, -2], [-3, -4]]))
    host[0:3:2, 1:4:2] = [[-1, -2], [-3, -4]]
    assert np.array_equal(array.to_host(), host)


def test_write_at_an_index_of_a_view(device):
    host = np.arange(12, dtype=np.float32).reshape(3, 4)
    array = DeviceArray.from_host(device, host)
    view = array.permute((1, 0))
    index = np.unravel_index(np.array([0, 5, 11]), view.shape)
    view.write_from_host(np.array([-1.0, -2.0, -3.0]), index)
    host.T[index] = [-1.0, -2.0, -3.0]
    assert np.array_equal(array.to_host(), host)


def test_write_into_a_broadcast_view_is_refused(device):
    array = DeviceArray.from_host(device, np.zeros((1, 4), np.float32)).broadcast_to((3, 4))
    with pytest.raises(ValueError, match="broadcast"):
        array.write_from_host(np.ones((3, 4)))


def test_copy_and_copy_from(device):
    a = DeviceArray.from_host(device, np.arange(6, dtype=np.float32))
    b = a.copy()
    assert b.buffer is not a.buffer and np.array_equal(b.to_host(), a.to_host())
    c = DeviceArray.from_host(device, np.zeros(6, np.float32))
    c.copy_from(a)
    assert np.array_equal(c.to_host(), np.arange(6))
    with pytest.raises(ValueError, match="not contiguous"):
        a.reshape((2, 3)).permute((1, 0)).copy()
