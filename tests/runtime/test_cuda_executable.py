"""Graphs compiled by the CUDA code generator, run by CudaExecutable over the fake driver,
whose launches run the kernels' GPU-mapped loops IR in the SIMT interpreter."""

import numpy as np
import pytest

import ember
from cuda_fake import FakeDriver
from ember.codegen.nvptx import target
from ember.runtime.cuda.array import DeviceArray
from ember.runtime.cuda.device import CudaDevice
from ember.runtime.cuda.executable import compile_module


def _graph(fn, *args):
    """The optimised forward graph module of `fn` traced on CPU tensors `args`."""
    compiled = ember.jit(fn, backend="interpreter")
    compiled(*args)
    (spec,) = compiled.cache.values()
    return spec.forward.module


def _compiled(driver, fn, *args):
    exe = compile_module(_graph(fn, *args), "sm_90")
    driver.register(exe.kernel)
    return exe


@pytest.fixture
def device():
    return CudaDevice(FakeDriver(), 0)


def _upload(device, *tensors):
    return [DeviceArray.from_host(device, t.numpy()) for t in tensors]


def softmax_scaled(x, w):
    return (x @ w).softmax(-1) * x.sum()


def test_one_call_runs_every_launch_in_order_with_temporaries(device):
    x, w = ember.randn(3, 4), ember.randn(4, 5)
    exe = _compiled(device.driver, softmax_scaled, x, w)
    plan = exe.kernel.plan
    assert len(plan.launches) > 1 and plan.temporaries
    (out,) = exe(_upload(device, x, w))
    assert out.device is device
    np.testing.assert_allclose(out.to_host(), softmax_scaled(x, w).numpy(), rtol=1e-5)
    launched = device.driver.launches
    assert [l[0] for l in launched] == [l.kernel for l in plan.launches]
    assert [(l[1], l[2]) for l in launched] == [(l.grid, l.block) for l in plan.launches]
    assert all(isinstance(a, np.uint64) for l in launched for a in l[3])


def test_the_module_loads_once_and_memory_is_reused(device):
    x, w = ember.randn(3, 4), ember.randn(4, 5)
    exe = _compiled(device.driver, softmax_scaled, x, w)
    inputs = _upload(device, x, w)
    exe(inputs)
    allocations = device.allocator.stats.device_allocations
    for _ in range(2):
        exe(inputs)
    assert len(device.driver.module_loads) == 1
    assert device.allocator.stats.device_allocations == allocations


def test_out_of_range_index_raises_and_the_next_call_runs(device):
    t = ember.arange(5.0)
    exe = _compiled(device.driver, lambda t, i: t[i] * 2, t, ember.tensor([0, 4]))
    (values,) = _upload(device, t)
    bad = DeviceArray.from_host(device, np.array([1, 7]))
    with pytest.raises(IndexError, match=r"^ember\.gather: index 7 is out of bounds for an axis "
                                         r"with size 5$"):
        exe([values, bad])
    (out,) = exe([values, DeviceArray.from_host(device, np.array([4, 1]))])
    np.testing.assert_array_equal(out.to_host(), [8.0, 2.0])


def test_host_inputs_are_uploaded_and_wrong_ones_rejected(device):
    x = ember.randn(4)
    exe = _compiled(device.driver, lambda x, s: x * s, x, ember.tensor(3.0))
    (out,) = exe.run(device, [x.numpy(), np.array(3.0, np.float32)])
    np.testing.assert_allclose(out.to_host(), x.numpy() * 3)
    with pytest.raises(ValueError, match="inputs must be dense arrays of the compiled types"):
        exe.run(device, [DeviceArray.from_host(device, np.ones(4)), np.float32(1)])
    strided = DeviceArray.from_host(device, np.ones(8, np.float32)).slice((0,), (8,), (2,))
    with pytest.raises(ValueError, match="dense"):
        exe([strided, np.array(1.0, np.float32)])
    with pytest.raises(ValueError, match="without a CUDA input"):
        exe([x.numpy(), np.array(1.0, np.float32)])


class _Ampere(FakeDriver):
    def compute_capability(self, index):
        return (8, 6)


def test_the_device_capability_picks_the_architecture(monkeypatch):
    import ember.runtime.cuda as runtime

    monkeypatch.delenv("EMBER_CUDA_ARCH", raising=False)
    monkeypatch.setattr(target, "device_arch", None)
    monkeypatch.setattr(runtime, "_devices", {})
    monkeypatch.setattr(runtime, "_driver", _Ampere())
    assert target.default_arch() == "sm_90"
    assert runtime.get_device(0).arch == "sm_86"
    assert target.default_arch() == "sm_86"
    assert compile_module(_graph(lambda x: x + 1, ember.ones(2))).kernel.arch == "sm_86"
