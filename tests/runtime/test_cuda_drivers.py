"""Each real driver backend (pycuda, cuda-python) on a GPU: memory, copies, a hand-written PTX
kernel, and the caching layers above them. Skipped, with the reason, where a backend is not
installed or finds no device."""

import numpy as np
import pytest

from ember.runtime.cuda import cuda_python_driver, pycuda_driver
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.device import CudaDevice

# out[i] = a[i] + b[i] for i < n, one thread per element (PTX ISA 7.0, sm_80 and later).
ADD_PTX = """
.version 7.0
.target sm_80
.address_size 64

.visible .entry add_f32(
    .param .u64 a,
    .param .u64 b,
    .param .u64 out,
    .param .u64 n
)
{
    .reg .pred %p<2>;
    .reg .f32 %f<4>;
    .reg .b32 %r<5>;
    .reg .b64 %rd<12>;

    ld.param.u64 %rd1, [a];
    ld.param.u64 %rd2, [b];
    ld.param.u64 %rd3, [out];
    ld.param.u64 %rd4, [n];
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mov.u32 %r3, %tid.x;
    mad.lo.u32 %r4, %r1, %r2, %r3;
    cvt.u64.u32 %rd5, %r4;
    setp.ge.u64 %p1, %rd5, %rd4;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd6, %rd1;
    cvta.to.global.u64 %rd7, %rd2;
    cvta.to.global.u64 %rd8, %rd3;
    shl.b64 %rd9, %rd5, 2;
    add.s64 %rd10, %rd6, %rd9;
    ld.global.f32 %f1, [%rd10];
    add.s64 %rd11, %rd7, %rd9;
    ld.global.f32 %f2, [%rd11];
    add.f32 %f3, %f1, %f2;
    add.s64 %rd10, %rd8, %rd9;
    st.global.f32 [%rd10], %f3;
DONE:
    ret;
}
"""


@pytest.fixture(params=[pycuda_driver, cuda_python_driver], ids=lambda m: m.LIBRARY)
def driver(request):
    try:
        d = request.param.create()
        if d.device_count() == 0:
            pytest.skip(f"{request.param.LIBRARY}: no CUDA device")
    except ImportError as e:
        pytest.skip(f"{request.param.LIBRARY} is not installed ({e})")
    except Exception as e:
        pytest.skip(f"{request.param.LIBRARY} cannot initialise CUDA here ({e})")
    return d


def test_device_queries(driver):
    assert isinstance(driver.device_name(0), str) and driver.device_name(0)
    major, minor = driver.compute_capability(0)
    assert major >= 3 and minor >= 0
    assert driver.total_memory(0) > 1 << 28


def test_memory_and_copies(driver):
    device = CudaDevice(driver, 0)
    host = np.arange(1000, dtype=np.float64)
    a = DeviceArray.from_host(device, host)
    b = a.copy()
    np.testing.assert_array_equal(b.to_host(), host)
    view = b.slice((10,), (1000,), (7,))
    np.testing.assert_array_equal(view.to_host(), host[10::7])
    view.write_from_host(np.zeros(view.shape))
    expected = host.copy()
    expected[10::7] = 0
    np.testing.assert_array_equal(b.to_host(), expected)


def test_ptx_kernel_launch(driver):
    device = CudaDevice(driver, 0)
    n = 1000
    x, y = np.random.rand(n).astype(np.float32), np.random.rand(n).astype(np.float32)
    a, b = DeviceArray.from_host(device, x), DeviceArray.from_host(device, y)
    out = DeviceArray.empty(device, (n,), np.float32)
    function = device.function(ADD_PTX, "add_f32")
    args = [np.uint64(a.ptr), np.uint64(b.ptr), np.uint64(out.ptr), np.uint64(n)]
    device.launch(function, (-(-n // 256), 1, 1), (256, 1, 1), args)
    device.synchronize()
    np.testing.assert_array_equal(out.to_host(), x + y)
    assert device.function(ADD_PTX, "add_f32") is function and len(device.modules) == 1


def test_allocator_reuses_device_memory(driver):
    device = CudaDevice(driver, 0)
    first = device.allocate(1 << 20)
    ptr = first.ptr
    del first
    assert device.allocate(1 << 20).ptr == ptr
    device.empty_cache()
    assert device.allocator.stats.reserved == device.allocator.stats.allocated


def test_streams(driver):
    driver.activate(0)
    stream = driver.create_stream()
    driver.stream_synchronize(stream)
