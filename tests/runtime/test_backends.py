"""The backend table: every backend names the device type whose tensors it runs."""

from ember.frontend.jit import DEVICE_BACKENDS
from ember.runtime import BACKEND_DEVICES, BACKENDS


def test_every_backend_has_a_device():
    assert set(BACKEND_DEVICES) == set(BACKENDS)
    assert set(BACKEND_DEVICES.values()) <= {"cpu", "cuda"}


def test_each_device_default_runs_that_device():
    for device, backend in DEVICE_BACKENDS.items():
        assert BACKEND_DEVICES[backend] == device
