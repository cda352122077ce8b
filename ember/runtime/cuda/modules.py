"""Loaded PTX modules and their kernels, cached by the PTX text's hash.

Loading PTX makes the driver JIT-compile it for the device, which costs milliseconds; each
distinct text is loaded once per device, and each kernel looked up once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ember.runtime.cuda.driver import Driver


def ptx_key(ptx: str) -> str:
    """The cache key of a PTX text."""
    return hashlib.sha256(ptx.encode()).hexdigest()


class ModuleCache:
    """One device's loaded modules by PTX hash, and their functions by name."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._modules: dict[str, Any] = {}
        self._functions: dict[tuple[str, str], Any] = {}
        self.loads = 0

    def module(self, ptx: str) -> Any:
        """The module loaded from `ptx`, loading it the first time."""
        key = ptx_key(ptx)
        module = self._modules.get(key)
        if module is None:
            module = self._modules[key] = self.driver.load_module(ptx)
            self.loads += 1
        return module

    def function(self, ptx: str, name: str) -> Any:
        """Kernel `name` of the module loaded from `ptx`."""
        key = (ptx_key(ptx), name)
        function = self._functions.get(key)
        if function is None:
            function = self._functions[key] = self.driver.get_function(self.module(ptx), name)
        return function

    def __len__(self) -> int:
        return len(self._modules)
