"""`ember.cuda`: CUDA devices as PyTorch's `torch.cuda` presents them.

Everything here works where no GPU or CUDA library exists: `is_available()` is then False and
anything that needs a device raises RuntimeError saying why CUDA is not available.
"""

from __future__ import annotations

from ember.frontend.device import device as Device
from ember.runtime import cuda as runtime
from ember.runtime.cuda import CudaDevice

_current = [0]


def is_available() -> bool:
    """Whether a CUDA driver loads and sees at least one device (never raises)."""
    return runtime.unavailable_reason() is None


def device_count() -> int:
    """How many CUDA devices can be used (0 without a driver; never raises)."""
    try:
        return runtime.get_driver().device_count()
    except Exception:  # a missing or broken driver library means "no devices"
        return 0


def runtime_device(which: "Device | str | int | None" = None) -> CudaDevice:
    """The runtime's CudaDevice for a CUDA device spec (None or "cuda": the current device).

    Raises RuntimeError "ember: CUDA is not available: <why>" where CUDA cannot be used.
    """
    reason = runtime.unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"ember: CUDA is not available: {reason}")
    index = _index(which)
    return runtime.get_device(index)


def _index(which) -> int:
    if which is None:
        return _current[0]
    d = Device(which)
    if d.type != "cuda":
        raise ValueError(f"ember.cuda: expected a CUDA device, got {d}")
    return _current[0] if d.index is None else d.index


def current_device() -> int:
    """Index of the device that `"cuda"` without an index means."""
    runtime_device()
    return _current[0]


def set_device(which: "Device | str | int") -> None:
    """Make `which` the current CUDA device."""
    _current[0] = runtime_device(which).index


def get_device_name(which: "Device | str | int | None" = None) -> str:
    """The device's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    return runtime_device(which).name


def get_device_capability(which: "Device | str | int | None" = None) -> tuple[int, int]:
    """(major, minor) compute capability."""
    return runtime_device(which).capability


def synchronize(which: "Device | str | int | None" = None) -> None:
    """Wait for all queued work on the device to finish."""
    runtime_device(which).synchronize()


def memory_allocated(which: "Device | str | int | None" = None) -> int:
    """Bytes of device memory held by live tensors (whole allocator blocks)."""
    return runtime_device(which).allocator.stats.allocated


def max_memory_allocated(which: "Device | str | int | None" = None) -> int:
    """The peak of memory_allocated since the device was first used."""
    return runtime_device(which).allocator.stats.peak_allocated


def memory_reserved(which: "Device | str | int | None" = None) -> int:
    """Bytes obtained from the driver: allocated plus cached for reuse."""
    return runtime_device(which).allocator.stats.reserved


def empty_cache() -> None:
    """Give cached free blocks of every device used so far back to the driver."""
    for d in runtime.initialized_devices():
        d.empty_cache()
