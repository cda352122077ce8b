"""The disk cache of object code: hits skip LLVM, in this process and in new ones; bad entries
are rebuilt, never loaded; concurrent writers leave a valid entry; keys follow what changes the
code."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ember.codegen import cache, llvm_cpu
from ember.runtime.llvm import LlvmExecutable
from tests.codegen.loops_samples import elementwise

ROOT = Path(__file__).resolve().parents[2]
# A child process: compile the sample, check its result, print how many compiles ran LLVM.
CHILD = """
import numpy as np
from ember.codegen import llvm_cpu
from ember.runtime.llvm import LlvmExecutable
from tests.codegen.loops_samples import elementwise
a, b = np.arange(30, dtype=np.float32).reshape(2, 3, 5)
module = elementwise("add", "arith.addf", (3, 5), arity=2)
run = LlvmExecutable(llvm_cpu.compile_loops(module), 2)
assert (run([a, b])[0] == a + b).all()
print(llvm_cpu.COMPILE_COUNT)
"""


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("EMBER_CACHE", raising=False)
    return tmp_path


def _module():
    return elementwise("add", "arith.addf", (3, 5), arity=2)


def _compile_and_check():
    """Compile the sample (through the cache), check its result, return the kernel."""
    kernel = llvm_cpu.compile_loops(_module())
    a, b = np.random.rand(2, 3, 5).astype(np.float32)
    np.testing.assert_array_equal(LlvmExecutable(kernel, 2)([a, b])[0], a + b)
    return kernel


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.obj"))


def _child(cache_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, EMBER_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _compiles_in_child(cache_dir: Path) -> int:
    out, err = _child(cache_dir).communicate(timeout=120)
    assert out.strip(), err
    return int(out.strip().splitlines()[-1])


def test_hit_after_miss_skips_compilation(cache_dir):
    before = llvm_cpu.COMPILE_COUNT
    _compile_and_check()
    assert llvm_cpu.COMPILE_COUNT == before + 1
    assert len(_entries(cache_dir)) == 1
    kernel = _compile_and_check()
    assert llvm_cpu.COMPILE_COUNT == before + 1
    # the printed stages of a kernel loaded from the cache are rebuilt on demand
    assert "func.func" in str(kernel.loops) and "define" in kernel.optimized_ir
    assert kernel.assembly


def test_disabled_cache_always_compiles(cache_dir, monkeypatch):
    monkeypatch.setenv("EMBER_CACHE", "0")
    before = llvm_cpu.COMPILE_COUNT
    _compile_and_check()
    _compile_and_check()
    assert llvm_cpu.COMPILE_COUNT == before + 2
    assert not _entries(cache_dir)


def test_new_process_uses_the_cache(cache_dir):
    assert _compiles_in_child(cache_dir) == 1
    assert _compiles_in_child(cache_dir) == 0


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "other key"])
def test_bad_entry_is_rebuilt_not_loaded(cache_dir, damage):
    _compile_and_check()
    (entry,) = _entries(cache_dir)
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[:len(data) // 2])
    elif damage == "flip":
        entry.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # a whole, valid entry of another key, renamed over this one
        other = cache.key("another text", "settings")
        cache.store(other, b"payload")
        entry.write_bytes(next(p for p in _entries(cache_dir) if p != entry).read_bytes())
    key = entry.stem
    assert cache.load(key) is None
    assert not entry.exists()  # deleted, so the next compile replaces it
    entry.write_bytes(data[:len(data) // 2])
    before = llvm_cpu.COMPILE_COUNT
    _compile_and_check()
    assert llvm_cpu.COMPILE_COUNT == before + 1
    assert entry.read_bytes() == data  # rebuilt: the same object code again


def test_concurrent_writers_leave_a_valid_entry(cache_dir):
    children = [_child(cache_dir) for _ in range(2)]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    (entry,) = _entries(cache_dir)
    assert cache.load(entry.stem) is not None
    assert not list(cache_dir.rglob("*.tmp"))  # no temporary file left behind
    assert _compiles_in_child(cache_dir) == 0


def test_racing_stores_are_atomic(cache_dir):
    """Two processes rewrite one key with payloads of different sizes while this one reads:
    every read is a whole payload of one writer."""
    key = cache.key("race", "settings")
    script = ("import sys\nfrom ember.codegen import cache\n"
              "for _ in range(200): cache.store(sys.argv[1], sys.argv[2].encode() * 50000)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    writers = [subprocess.Popen([sys.executable, "-c", script, key, c], cwd=ROOT, env=env)
               for c in "ab"]
    while any(w.poll() is None for w in writers):
        payload = cache.load(key)
        if payload is not None:
            assert payload in (b"a" * 50000, b"b" * 50000)
    assert all(w.returncode == 0 for w in writers)
    assert cache.load(key) in (b"a" * 50000, b"b" * 50000)


def test_key_follows_cpu_ir_and_settings():
    host = cache.host_description()
    base = cache.key("ir text", "O3", host)
    assert base == cache.key("ir text", "O3", host)
    assert base == cache.key("ir text", "O3")  # this machine is the default host
    assert base != cache.key("ir text", "O3", host.replace("features ", "features -avx512f,"))
    assert base != cache.key("ir text", "O3", host.replace("cpu ", "cpu other-"))
    assert base != cache.key("ir text 2", "O3", host)
    assert base != cache.key("ir text", "O2", host)
    for part in ("llvm ", "llvmlite ", "cpu ", "features "):
        assert part in host


def test_kernels_split_another_way_are_not_served(cache_dir, monkeypatch):
    """Compiled code bakes in how loops are split across threads (the host's core count, parts
    per thread): code split another way, as in a cache shared with a machine of another core
    count, is a miss, not served."""
    from ember.codegen.llvm import parallel

    assert f"threads {parallel.default_threads()} " in parallel.settings()
    before = llvm_cpu.COMPILE_COUNT
    _compile_and_check()
    monkeypatch.setattr(parallel, "TAIL_PARTS_PER_THREAD", parallel.TAIL_PARTS_PER_THREAD + 1)
    _compile_and_check()
    assert llvm_cpu.COMPILE_COUNT == before + 2
    assert len(_entries(cache_dir)) == 2
