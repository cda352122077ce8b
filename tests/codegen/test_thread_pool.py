"""The thread pool that parallel kernels run on: every part runs exactly once, whoever calls
(several Python threads at once, a forked child), and results equal the single-thread ones."""

import os
import threading

import numpy as np
import pytest

import ember
from ember.codegen.llvm import parallel, thread_pool

ROWS = 4096  # large enough that the kernels below are split across threads


def _scaled_rows():
    """A jit'ed elementwise kernel over (ROWS, 1024) and its NumPy reference."""
    fn = ember.jit(lambda x: (x * 3.0 + 1.0).tanh(), backend="llvm")
    x = np.random.default_rng(1).standard_normal((ROWS, 1024), dtype=np.float32)
    return fn, x


def test_runtime_module_verifies_and_exports_the_entry():
    module = thread_pool.runtime_module(workers=1)
    text = str(module)
    assert f'@"{thread_pool.ENTRY}"(' in text
    from ember.codegen.llvm import target
    target.parse(text)  # LLVM's verifier accepts it


def test_parallel_kernel_goes_through_the_pool():
    fn, x = _scaled_rows()
    text = fn.lower(ember.from_numpy(x)).as_text("llvm")
    if parallel.default_threads() > 1:
        assert thread_pool.ENTRY in text
        assert "pthread_create" not in text


@pytest.mark.parametrize("size, split", [(1 << 13, False), (1 << 18, True)])
def test_math_functions_count_as_their_approximations_work(size, split):
    # a loop of 2**18 tanh is a few loads and stores in the loops IR, but ~100 us of arithmetic
    fn = ember.jit(lambda x: x.tanh(), backend="llvm")
    x = np.random.default_rng(3).standard_normal(size, dtype=np.float32)
    text = fn.lower(ember.from_numpy(x)).as_text("llvm")
    assert (thread_pool.ENTRY in text) == (split and parallel.default_threads() > 1)
    fn(ember.from_numpy(x))
    np.testing.assert_allclose(fn(ember.from_numpy(x)).numpy(), np.tanh(x), rtol=1e-6,
                               atol=1e-7)


def test_rows_with_a_buffer_of_their_own_run_in_parallel():
    # softmax keeps each row's exponentials in a buffer allocated inside the row loop: every
    # thread has its own on its stack, so the rows still split across threads
    fn = ember.jit(lambda x: ember.softmax(x, -1), backend="llvm")
    x = np.random.default_rng(2).standard_normal((ROWS, 1024), dtype=np.float32)
    lowered = fn.lower(ember.from_numpy(x))
    assert "memref<1024xf32>" in lowered.as_text("loops")
    if parallel.default_threads() > 1:
        assert thread_pool.ENTRY in lowered.as_text("llvm")
    fn(ember.from_numpy(x))
    e = np.exp(x.astype(np.float64) - x.max(-1, keepdims=True))
    expected = e / e.sum(-1, keepdims=True)
    for _ in range(20):
        np.testing.assert_allclose(fn(ember.from_numpy(x)).numpy(), expected, rtol=1e-5,
                                   atol=1e-7)


def test_updates_guarded_by_the_index_checks_run_in_parallel():
    # an in-place update runs only if every index was in range (a branch on the status word);
    # the loop nest in that branch still splits across threads
    fn = ember.jit(lambda w, i: (w[i].sum(), w.mul_(0.5))[0], backend="llvm")
    w = ember.from_numpy(np.ones((512, 1024), np.float32))
    lowered = fn.lower(ember.ones(512, 1024), ember.tensor([0, 0]))  # traces
    assert '"scf.if"' in lowered.as_text("loops")
    if parallel.default_threads() > 1:
        assert thread_pool.ENTRY in lowered.as_text("llvm")
    assert fn(w, ember.tensor([1, 3])).item() == 2048.0
    np.testing.assert_array_equal(w.numpy(), 0.5)
    with pytest.raises(IndexError):
        fn(w, ember.tensor([1, 512]))
    np.testing.assert_array_equal(w.numpy(), 0.5)


def test_repeated_calls_give_identical_results():
    fn, x = _scaled_rows()
    fn(ember.from_numpy(x))  # the first call traces: eager code computes its result
    first = fn(ember.from_numpy(x)).numpy().copy()
    np.testing.assert_allclose(first, np.tanh(x.astype(np.float64) * 3 + 1), rtol=1e-6,
                               atol=1e-6)
    for _ in range(200):
        np.testing.assert_array_equal(fn(ember.from_numpy(x)).numpy(), first)


def test_concurrent_callers_each_get_their_own_result():
    fn, x = _scaled_rows()
    other = ember.jit(lambda x: x.exp() - 1.0, backend="llvm")
    inputs = [x + i for i in range(4)]
    fn(ember.from_numpy(x)), other(ember.from_numpy(x))  # traced, so later calls run compiled
    expected = [fn(ember.from_numpy(a)).numpy().copy() for a in inputs]
    expected_other = [other(ember.from_numpy(a)).numpy().copy() for a in inputs]
    failures = []

    def work(i):
        for _ in range(30):
            a = ember.from_numpy(inputs[i])
            if not np.array_equal(fn(a).numpy(), expected[i]):
                failures.append(("fn", i))
            if not np.array_equal(other(a).numpy(), expected_other[i]):
                failures.append(("other", i))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_parallel_kernels():
    fn, x = _scaled_rows()
    fn(ember.from_numpy(x))
    expected = fn(ember.from_numpy(x)).numpy().copy()  # the parent's pool is running
    pid = os.fork()
    if pid == 0:  # the child: no pool threads were inherited, so it must start its own
        ok = all(np.array_equal(fn(ember.from_numpy(x)).numpy(), expected) for _ in range(5))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
