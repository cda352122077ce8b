"""How row loops are cut into parts for the thread pool."""

import pytest

from ember.codegen.llvm import parallel


@pytest.mark.parametrize("total", [0, 1, 7, 64, 100, 4096, 4097])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_claimed_chunks_cover_the_range_in_order(total, threads):
    ranges = parallel.claimed_chunks(total, threads)
    bounds = [0] + [hi for _, hi in ranges]
    assert ranges == list(zip(bounds, bounds[1:])) and bounds[-1] == total
    assert all(lo < hi for lo, hi in ranges)


def test_claimed_chunks_shrink_from_long_first_parts_to_a_short_tail():
    ranges = parallel.claimed_chunks(4096, 2)
    lengths = [hi - lo for lo, hi in ranges]
    assert lengths[:3] == [1024, 768, 576]  # a quarter of what is left, then of the rest
    assert lengths == sorted(lengths, reverse=True)
    shortest = 4096 // (2 * parallel.TAIL_PARTS_PER_THREAD)
    assert lengths[-2] == shortest and lengths[-1] <= shortest
    assert len(ranges) <= 2 * parallel.TAIL_PARTS_PER_THREAD


def test_one_thread_takes_the_loop_whole():
    assert parallel.claimed_chunks(4096, 1) == [(0, 4096)]
