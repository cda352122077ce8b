"""ember.save / ember.load: safetensors checkpoints, PyTorch interop, atomicity, bad files."""

import io
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.torch
import torch

import ember


def assert_same(a, b):
    """Equal structure, container types, key types and tensor values/dtypes."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, ember.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy().astype(np.float64), b.numpy().astype(np.float64))
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_state_dict_round_trip_and_loads_in_torch(tmp_path):
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    path = tmp_path / "model.safetensors"
    ember.save(model.state_dict(), path)
    loaded = ember.load(path)
    assert_same(loaded, model.state_dict())

    reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                    torch.nn.Linear(8, 3))
    reference.load_state_dict(safetensors.torch.load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.tensor(x)).numpy()
    np.testing.assert_allclose(model(ember.tensor(x)).detach().numpy(), expected, rtol=1e-5,
                               atol=1e-6)

    fresh = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    fresh.load_state_dict(loaded)
    np.testing.assert_allclose(fresh(ember.tensor(x)).detach().numpy(), expected, rtol=1e-5,
                               atol=1e-6)


def test_torch_safetensors_file_loads_in_ember(tmp_path):
    tensors = {"w": torch.randn(2, 3), "steps": torch.arange(4), "mask": torch.tensor([True]),
               "u8": torch.tensor([0, 255], dtype=torch.uint8)}
    path = str(tmp_path / "torch.safetensors")
    safetensors.torch.save_file(tensors, path)
    loaded = ember.load(path)
    assert set(loaded) == set(tensors)
    np.testing.assert_array_equal(loaded["w"].numpy(), tensors["w"].numpy())
    assert loaded["steps"].dtype == ember.int64 and loaded["mask"].dtype == ember.bool
    assert loaded["u8"].tolist() == [0, 255]  # widened: Ember has no uint8


def test_nested_objects_round_trip(tmp_path):
    optimizer_state = {
        "state": {0: {"step": ember.tensor(3.0), "exp_avg": ember.randn(2, 3)},
                  1: {"step": ember.tensor(3.0), "exp_avg": ember.zeros(0, 4)}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0, 1],
                          "amsgrad": False, "foreach": None, "name": "main"}],
    }
    obj = OrderedDict([("optim", optimizer_state), ("epoch", 7),
                       ("pair", (ember.ones(2, dtype=ember.int32), [1.0, float("inf"), "x"])),
                       (2.5, float("nan")), ((1, "a"), True), ("same.name", ember.ones(1)),
                       ("scalar", ember.tensor(2, dtype=ember.int64))])
    path = tmp_path / "nested.ckpt"
    ember.save(obj, path)
    assert_same(ember.load(path), obj)
    # File objects work as well as paths.
    buffer = io.BytesIO()
    ember.save([ember.arange(3), (None, {})], buffer)
    buffer.seek(0)
    assert_same(ember.load(buffer), [ember.arange(3), (None, {})])


def test_dtypes_and_requires_grad_round_trip(tmp_path):
    values = {name: ember.tensor([[1.5, -2.0], [0.25, 3.0]], dtype=getattr(ember, name))
              for name in ("float32", "float64", "float16", "bfloat16", "int32", "int64")}
    values["bool"] = ember.tensor([True, False])
    values["view"] = ember.arange(12).float().reshape(3, 4).t()  # non-contiguous
    path = str(tmp_path / "dtypes.safetensors")
    ember.save(values, path)
    assert_same(ember.load(path), values)
    assert safetensors.torch.load_file(path)["bfloat16"].dtype == torch.bfloat16
    np.testing.assert_array_equal(safetensors.torch.load_file(path)["view"].numpy(),
                                  values["view"].numpy())
    weight = ember.randn(3, requires_grad=True)
    ember.save({"w": [weight]}, path)
    assert ember.load(path)["w"][0].requires_grad


def test_save_is_atomic_and_rejects_unsupported_objects(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    ember.save({"a": ember.ones(2)}, path)
    with pytest.raises(TypeError, match="cannot save a object .at x.1"):
        ember.save({"x": [1, object()]}, path)
    # The failed save left the previous checkpoint intact and no temporary files behind.
    assert_same(ember.load(path), {"a": ember.ones(2)})
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def corrupt(path, data):
    path.write_bytes(data)
    return path


def test_malformed_files_are_rejected_with_the_file_name(tmp_path):
    good = tmp_path / "good.safetensors"
    ember.save({"w": ember.randn(4, 4), "nested": [ember.ones(2)]}, good)
    data = good.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])

    def with_structure(structure):
        meta = dict(header["__metadata__"], **{"ember.structure": structure})
        text = json.dumps(dict(header, __metadata__=meta)).encode()
        return struct.pack("<Q", len(text)) + text + data[8 + header_len:]

    bad = {
        "truncated": data[:-10],
        "truncated_header": data[:20],
        "tiny": data[:5],
        "random": np.random.default_rng(0).bytes(300),
        "header_length": struct.pack("<Q", header_len + 1000) + data[8:],
        "header_length_short": struct.pack("<Q", header_len - 3) + data[8:],
        "structure_not_json": with_structure("{not json"),
        "structure_missing_tensor": with_structure(
            json.dumps({"__ember__": "tensor", "name": "ghost"})),
        "structure_unknown_tag": with_structure(json.dumps({"__ember__": "pickle"})),
        "structure_bad_dict": with_structure(
            json.dumps({"__ember__": "dict", "keys": [1, 2], "values": [3]})),
        "structure_list_key": with_structure(
            json.dumps({"__ember__": "dict", "keys": [[1]], "values": [3]})),
    }
    for name, payload in bad.items():
        path = corrupt(tmp_path / f"{name}.bin", payload)
        with pytest.raises(ember.CheckpointError, match=f"{name}.bin") as info:
            ember.load(path)
        assert "not a valid checkpoint" in str(info.value), name
