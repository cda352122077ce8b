"""The caching allocator against the fake driver: size classes, reuse, empty_cache, stats."""

import gc

import pytest

from cuda_fake import FakeDriver
from ember.runtime.cuda.allocator import (MIN_BLOCK, CachingAllocator, OutOfMemoryError,
                                          size_class)


@pytest.fixture
def driver():
    d = FakeDriver()
    d.activate(0)
    return d


def test_size_classes_round_up_by_at_most_a_quarter():
    assert size_class(1) == size_class(MIN_BLOCK) == MIN_BLOCK
    assert [size_class(n) for n in (513, 640, 641, 1025)] == [640, 640, 768, 1280]
    for n in range(1, 1 << 16, 97):
        block = size_class(n)
        assert n <= block and (n <= MIN_BLOCK or block <= n * 1.25)
        assert size_class(block) == block


def test_freed_block_is_reused_without_a_driver_call(driver):
    allocator = CachingAllocator(driver)
    buffer = allocator.allocate(1000)
    ptr = buffer.ptr
    del buffer
    again = allocator.allocate(900)  # same class (1024)
    assert again.ptr == ptr
    assert driver.allocs == 1 and allocator.stats.cache_hits == 1


def test_other_size_classes_get_their_own_blocks(driver):
    allocator = CachingAllocator(driver)
    del_me = allocator.allocate(1000)
    ptr = del_me.ptr
    del del_me
    other = allocator.allocate(5000)
    assert other.ptr != ptr and driver.allocs == 2


def test_stats_follow_torch_cuda_names(driver):
    allocator = CachingAllocator(driver)
    a = allocator.allocate(1000)
    b = allocator.allocate(3000)
    assert allocator.stats.allocated == 1024 + 3072
    assert allocator.stats.reserved == 1024 + 3072
    del a
    assert allocator.stats.allocated == 3072
    assert allocator.stats.reserved == 1024 + 3072
    assert allocator.stats.peak_allocated == 1024 + 3072
    assert allocator.cached_bytes() == 1024
    del b


def test_empty_cache_returns_free_blocks_only(driver):
    allocator = CachingAllocator(driver)
    kept = allocator.allocate(100)
    freed = allocator.allocate(100)
    del freed
    allocator.empty_cache()
    assert driver.frees == 1 and driver.live_bytes == MIN_BLOCK
    assert allocator.stats.reserved == MIN_BLOCK and allocator.cached_bytes() == 0
    assert kept.ptr in driver.memory


def test_out_of_memory_empties_the_cache_then_raises_clearly(driver):
    driver.capacity = 4096
    allocator = CachingAllocator(driver)
    small = allocator.allocate(2048)
    del small  # cached: 2048 bytes still held from the driver
    big = allocator.allocate(4096)  # fits only once the cache is given back
    assert driver.frees == 1 and big.nbytes == 4096
    with pytest.raises(OutOfMemoryError, match="CUDA out of memory allocating"):
        allocator.allocate(1)


def test_buffers_return_to_the_cache_when_collected(driver):
    allocator = CachingAllocator(driver)
    buffers = [allocator.allocate(64) for _ in range(10)]
    del buffers
    gc.collect()
    assert allocator.stats.allocated == 0 and allocator.cached_bytes() == 10 * MIN_BLOCK
    again = [allocator.allocate(64) for _ in range(10)]
    assert driver.allocs == 10 and len(again) == 10
