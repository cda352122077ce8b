"""Launch plans run by CudaExecutable over the fake driver, with Python stand-in kernels."""

import numpy as np
import pytest

from cuda_fake import FakeDriver
from ember.ir import dtypes
from ember.ir.types import TensorType
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.device import CudaDevice
from ember.runtime.cuda.executable import BufferRef, CudaExecutable, KernelLaunch, LaunchPlan

PTX = ".visible .entry scale(\n) {}\n.visible .entry add(\n) {}"
F32x4 = TensorType((4,), dtypes.float32)


def _floats(driver, ptr, n=4):
    return driver.view(int(ptr), 4 * n).view(np.float32)


def scale(driver, x, out, factor, n):
    _floats(driver, out, int(n))[:] = _floats(driver, x, int(n)) * factor


def add(driver, x, y, out, n):
    _floats(driver, out, int(n))[:] = _floats(driver, x, int(n)) + _floats(driver, y, int(n))


@pytest.fixture
def device():
    driver = FakeDriver()
    driver.kernels.update(scale=scale, add=add)
    return CudaDevice(driver, 0)


def two_kernel_plan() -> LaunchPlan:
    """out = x * 2 + x, through a temporary."""
    n = np.int64(4)
    return LaunchPlan(
        kernels=(KernelLaunch("scale", (1, 1, 1), (4, 1, 1),
                              (BufferRef("input", 0), BufferRef("temp", 0), np.float32(2), n)),
                 KernelLaunch("add", (1, 1, 1), (4, 1, 1),
                              (BufferRef("temp", 0), BufferRef("input", 0),
                               BufferRef("output", 0), n))),
        results=(BufferRef("output", 0), BufferRef("input", 0)),
        temporaries=(16,))


def test_plan_runs_kernels_in_order_with_buffers_by_address(device):
    exe = CudaExecutable(device, PTX, two_kernel_plan(), [F32x4], [F32x4, F32x4])
    x = DeviceArray.from_host(device, np.arange(4, dtype=np.float32))
    out, passed_through = exe([x])
    assert np.array_equal(out.to_host(), [0, 3, 6, 9])
    # A result that is an input comes back as a copy: eager results own their storage.
    assert passed_through.buffer is not x.buffer
    assert np.array_equal(passed_through.to_host(), [0, 1, 2, 3])
    launches = device.driver.launches
    assert [l[0] for l in launches] == ["scale", "add"]
    assert launches[0][3][0] == np.uint64(x.ptr) and launches[0][3][0].dtype == np.uint64


def test_module_is_loaded_once_for_many_calls(device):
    exe = CudaExecutable(device, PTX, two_kernel_plan(), [F32x4], [F32x4, F32x4])
    x = DeviceArray.from_host(device, np.ones(4, np.float32))
    for _ in range(3):
        exe([x])
    assert len(device.driver.module_loads) == 1
    # Outputs and temporaries come back from the cache after the first call.
    assert device.driver.allocs <= 5


def test_inputs_must_match_the_compiled_types(device):
    exe = CudaExecutable(device, PTX, two_kernel_plan(), [F32x4], [F32x4, F32x4])
    wrong = DeviceArray.from_host(device, np.ones(4, np.float64))
    with pytest.raises(ValueError, match="inputs must be dense arrays of the compiled types"):
        exe([wrong])
    strided = DeviceArray.from_host(device, np.ones(8, np.float32)).slice((0,), (8,), (2,))
    with pytest.raises(ValueError, match="dense"):
        exe([strided])
