"""Matrix products and triangles against PyTorch: values, gradients, dtypes, layouts, errors."""

import pytest
import torch

import ember
from torch_compare import check, data

SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)), ((0, 3), (3, 4)), ((2, 0), (0, 3)),
    ((2, 3, 0), (0, 4)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int32", "int64"])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul_matches_torch(shapes, dtype):
    a, b = (data(s, dtype, seed=i) for i, s in enumerate(shapes))
    check(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], [dtype, dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_of_transposed_views(dtype):
    a, b = data((4, 3), dtype), data((5, 4), dtype, seed=1)
    check(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], [dtype, dtype], transpose=True)


@pytest.mark.parametrize("name,shapes", [
    ("mm", ((2, 3), (3, 4))), ("bmm", ((2, 2, 3), (2, 3, 4))), ("dot", ((3,), (3,))),
    ("outer", ((3,), (4,))), ("matmul", ((2, 3), (3, 4)))])
def test_named_products(name, shapes):
    a, b = (data(s, "float64", seed=i) for i, s in enumerate(shapes))
    check(getattr(ember, name), getattr(torch, name), [a, b], ["float64", "float64"])


@pytest.mark.parametrize("diagonal", [-1, 0, 2])
@pytest.mark.parametrize("name", ["triu", "tril"])
def test_triangles(name, diagonal):
    check(lambda x: getattr(x, name)(diagonal), lambda x: getattr(x, name)(diagonal),
          [data((2, 3, 4), "float32")], ["float32"])


@pytest.mark.parametrize("left,right", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), ())])
def test_matmul_shape_errors_name_the_op_and_shapes(left, right):
    with pytest.raises(RuntimeError, match=r"matmul.*" + str(left[-1])):
        ember.ones(*left) @ ember.ones(*right)


def test_matmul_dtype_mismatch_names_both_dtypes():
    with pytest.raises(RuntimeError, match="float32.*float64"):
        ember.ones(2, 3) @ ember.ones(3, 2, dtype=ember.float64)
