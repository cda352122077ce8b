"""ember.device: parsing, equality, and the errors for malformed specs."""

import pytest

import ember


@pytest.mark.parametrize("spec,type_,index", [
    ("cpu", "cpu", None), ("cuda", "cuda", None), ("cuda:0", "cuda", 0), ("cuda:3", "cuda", 3),
    ("cpu:0", "cpu", 0),
])
def test_parse(spec, type_, index):
    d = ember.device(spec)
    assert (d.type, d.index) == (type_, index)
    assert str(d) == spec


def test_index_argument_and_int_spec():
    assert ember.device("cuda", 1) == ember.device("cuda:1")
    assert ember.device(2) == ember.device("cuda:2")  # an int means a CUDA device, as in torch
    assert ember.device(ember.device("cuda:1")) == "cuda:1"


def test_equality_and_hash():
    assert ember.device("cuda:0") == "cuda:0" == ember.device("cuda", 0)
    assert ember.device("cuda") != ember.device("cuda:0")  # no index: the current device
    assert ember.device("cpu") != ember.device("cuda:0")
    assert len({ember.device("cuda:0"), ember.device("cuda", 0), ember.device("cpu")}) == 2


def test_repr_matches_torch():
    assert repr(ember.device("cuda:1")) == "device(type='cuda', index=1)"
    assert repr(ember.device("cpu")) == "device(type='cpu')"


@pytest.mark.parametrize("spec", ["gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1:2", "CUDA"])
def test_bad_strings(spec):
    with pytest.raises(RuntimeError, match="ember.device"):
        ember.device(spec)


def test_bad_indices():
    with pytest.raises(RuntimeError, match="must not be negative"):
        ember.device("cuda", -1)
    with pytest.raises(RuntimeError, match="index given twice"):
        ember.device("cuda:0", 1)
    with pytest.raises(TypeError, match="must be an int"):
        ember.device("cuda", 1.5)
    with pytest.raises(TypeError, match="expected a string"):
        ember.device(None)
