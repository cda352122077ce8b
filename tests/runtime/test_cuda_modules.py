"""The PTX module cache against the fake driver: one load per distinct text, per device."""

import pytest

from cuda_fake import FakeDriver
from ember.runtime.cuda.driver import CudaError
from ember.runtime.cuda.modules import ModuleCache, ptx_key

PTX_A = ".visible .entry add(\n) { ret; }\n.visible .entry mul(\n) { ret; }"
PTX_B = ".visible .entry sub(\n) { ret; }"


def test_a_text_is_loaded_once():
    driver = FakeDriver()
    cache = ModuleCache(driver)
    assert cache.module(PTX_A) is cache.module(PTX_A)
    cache.module(PTX_B)
    assert driver.module_loads == [PTX_A, PTX_B] and len(cache) == 2 and cache.loads == 2


def test_functions_are_looked_up_once_per_name():
    driver = FakeDriver()
    cache = ModuleCache(driver)
    add = cache.function(PTX_A, "add")
    assert cache.function(PTX_A, "add") is add
    assert cache.function(PTX_A, "mul")[:2] == ("function", "mul")
    assert len(driver.module_loads) == 1


def test_missing_kernel_is_a_driver_error():
    with pytest.raises(CudaError, match="no kernel"):
        ModuleCache(FakeDriver()).function(PTX_B, "add")


def test_key_is_the_text_hash():
    assert ptx_key(PTX_A) == ptx_key(str(PTX_A)) != ptx_key(PTX_B)
    assert len(ptx_key(PTX_A)) == 64
