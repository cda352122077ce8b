"""Index ranges of loops IR: which accesses stay in a slice of their loop's iteration (the
test that lets the CPU backend split a loop across threads, and lets `fuse-rows` merge)."""

import pytest

from ember.ir import parse
from ember.passes.fuse_rows import owns_rows, owns_slices
from ember.passes.loop_analysis import index_range, own_slice

LOOP = """
module {{
  func.func @f(%arg0: memref<16xf32>) {{
    %c0 = "arith.constant"() {{value = 0 : index}} : () -> index
    %c1 = "arith.constant"() {{value = 1 : index}} : () -> index
    %c2 = "arith.constant"() {{value = 2 : index}} : () -> index
    %c4 = "arith.constant"() {{value = 4 : index}} : () -> index
    "scf.for"(%c0, %c4, %c1) ({{
    ^bb0(%i: index):
      %r = "arith.muli"(%i, %c4) : (index, index) -> index
      "scf.for"(%c0, %c2, %c1) ({{
      ^bb0(%k: index):
        %s = "arith.addi"(%r, %k) : (index, index) -> index
        %t = "arith.addi"(%s, {offset}) : (index, index) -> index
        %v = "memref.load"(%arg0, {load}) : (memref<16xf32>, index) -> f32
        "memref.store"(%v, %arg0, %t) : (f32, memref<16xf32>, index) -> ()
        "scf.yield"() : () -> ()
      }}) : (index, index, index) -> ()
      "scf.yield"() : () -> ()
    }}) : (index, index, index) -> ()
    func.return
  }}
}}
"""


def _loop(offset: str = "%c2", load: str = "%s"):
    module = parse(LOOP.format(offset=offset, load=load))
    return next(op for op in module.walk() if op.name == "scf.for")


def _value(loop, name_index: int):
    """The result of the name_index-th op of the inner loop's body."""
    inner = next(op for op in loop.walk() if op.name == "scf.for" and op is not loop)
    return inner.regions[0].blocks[0].operations[name_index].result


def test_index_range_of_chunk_rows():
    loop = _loop()
    iv = loop.regions[0].blocks[0].arguments[0]
    assert index_range(iv, iv) == (1, 0, 0)
    assert index_range(_value(loop, 0), iv) == (4, 0, 1)  # 4 i + k, k in [0, 1]
    assert index_range(_value(loop, 1), iv) == (4, 2, 3)  # + 2
    assert own_slice(_value(loop, 1), iv)


@pytest.mark.parametrize("offset, load, owned", [
    ("%c2", "%s", True),    # rows 4i .. 4i+3 of each i
    ("%c4", "%s", False),   # 4i + 4 .. 4i + 5: the next iteration's rows
    ("%c2", "%i", False),   # loads row i but stores rows 4i + ...: slices of two sizes
])
def test_owns_slices(offset, load, owned):
    loop = _loop(offset, load)
    memref = loop.parent.parent.parent.regions[0].blocks[0].arguments[0]
    assert owns_slices(loop, {memref}) == owned
    assert not owns_rows(loop, {memref})  # fuse-rows wants the induction variable itself
