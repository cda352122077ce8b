"""Where CUDA cannot be used (no pycuda / cuda-python, no driver, no GPU, as in CI): everything
CPU works, `ember.cuda.is_available()` is False, and every request for CUDA raises a clear
RuntimeError instead of crashing."""

import subprocess
import sys

import numpy as np
import pytest

import ember

pytestmark = pytest.mark.skipif(ember.cuda.is_available(),
                                reason="these tests need a machine where CUDA is unavailable")

UNAVAILABLE = "ember: CUDA is not available: "


def test_is_available_is_false_and_never_raises():
    assert ember.cuda.is_available() is False
    assert ember.cuda.is_available() is False  # the failure is remembered, not re-raised
    assert ember.cuda.device_count() == 0


def test_reason_names_what_is_missing():
    with pytest.raises(RuntimeError) as info:
        ember.cuda.synchronize()
    message = str(info.value)
    assert message.startswith(UNAVAILABLE)
    assert "pycuda" in message and "cuda-python" in message


@pytest.mark.parametrize("request_cuda", [
    lambda: ember.ones(2).cuda(),
    lambda: ember.ones(2).to("cuda"),
    lambda: ember.ones(2).to("cuda:1"),
    lambda: ember.ones(2).to(ember.device("cuda", 0), ember.float64),
    lambda: ember.zeros(2, 3, device="cuda"),
    lambda: ember.tensor([1.0], device="cuda:0"),
    lambda: ember.randn(3, device="cuda"),
    lambda: ember.arange(4, device="cuda"),
    lambda: ember.nn.Linear(2, 2).cuda(),
    lambda: ember.nn.Linear(2, 2).to("cuda"),
    lambda: ember.cuda.current_device(),
    lambda: ember.cuda.get_device_name(),
    lambda: ember.cuda.memory_allocated(),
    lambda: ember.cuda.set_device(0),
], ids=["cuda()", "to(cuda)", "to(cuda:1)", "to(device,dtype)", "zeros", "tensor", "randn",
        "arange", "Module.cuda", "Module.to", "current_device", "get_device_name",
        "memory_allocated", "set_device"])
def test_cuda_requests_raise_clearly(request_cuda):
    with pytest.raises(RuntimeError, match=UNAVAILABLE):
        request_cuda()


def test_empty_cache_is_a_no_op_without_devices():
    ember.cuda.empty_cache()


def test_import_ember_does_not_import_cuda_libraries():
    code = ("import sys, ember\n"
            "x = (ember.ones(2) * 2).cpu()\n"
            "assert x.sum().item() == 4 and x.device == ember.device('cpu')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pycuda', 'cuda')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cpu_tensors_report_the_cpu():
    x = ember.ones(2, 3)
    assert x.device == ember.device("cpu") and not x.is_cuda and x.get_device() == -1
    assert x.cpu() is x and x.to("cpu") is x and x.to(device="cpu") is x
    np.testing.assert_array_equal(x.cpu().numpy(), np.ones((2, 3)))
