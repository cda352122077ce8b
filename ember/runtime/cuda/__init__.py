"""The CUDA runtime: a driver chosen at first use, and one `CudaDevice` per device used.

Nothing here imports pycuda or cuda-python until a CUDA device is first asked for, so Ember
imports and runs on the CPU where neither is installed.
"""

from __future__ import annotations

from ember.codegen.nvptx import target
from ember.runtime.cuda.driver import CudaError, CudaUnavailableError, Driver, load_driver
from ember.runtime.cuda.device import CudaDevice

_driver: Driver | None = None
_failure: str | None = None
_devices: dict[int, CudaDevice] = {}


def get_driver() -> Driver:
    """The process's CUDA driver, loaded at the first call; CudaUnavailableError says why
    there is none (the reason is remembered, so later calls fail as fast)."""
    global _driver, _failure
    if _driver is None:
        if _failure is not None:
            raise CudaUnavailableError(_failure)
        try:
            _driver = load_driver()
        except CudaUnavailableError as e:
            _failure = str(e)
            raise
    return _driver


def set_driver(driver: Driver | None) -> None:
    """Use `driver` from now on (None: load a real one at next use), forgetting the devices
    made so far. Tests run the CUDA paths over an in-process fake driver this way."""
    global _driver, _failure
    _driver, _failure = driver, None
    _devices.clear()


def unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, or None when a driver loads and sees a device."""
    try:
        count = get_driver().device_count()
    except Exception as e:  # any failure of a driver library means "not available"
        return str(e)
    return None if count else "the CUDA driver found no device"


def get_device(index: int) -> CudaDevice:
    """Device `index`, made ready (context, allocator, module cache) at first use."""
    device = _devices.get(index)
    if device is None:
        count = get_driver().device_count()
        if not 0 <= index < count:
            raise RuntimeError(f"ember: CUDA device index {index} is out of range "
                               f"({count} device{'s' if count != 1 else ''} available)")
        device = _devices[index] = CudaDevice(get_driver(), index)
        target.device_arch = device_arch
    return device


def device_arch() -> str | None:
    """The architecture of the first device used (what code compiled without naming one is
    for), or None before any; the CUDA code generator's `target.device_arch` hook."""
    return next(iter(_devices.values())).arch if _devices else None


def initialized_devices() -> list[CudaDevice]:
    """The devices used so far."""
    return list(_devices.values())


__all__ = ["CudaDevice", "CudaError", "CudaUnavailableError", "Driver", "device_arch",
           "get_device", "get_driver", "initialized_devices", "set_driver", "unavailable_reason"]
