"""nn.Module and the containers against torch.nn: the same code run with `lib = torch` and
`lib = ember` registers, names, traverses, saves, loads, hooks and prints the same things."""

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember

LIBS = pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])


def both(fn):
    """fn(torch) and fn(ember)."""
    return fn(torch), fn(ember)


def tensor(lib, values, **kwargs):
    return lib.tensor(np.asarray(values, dtype=np.float32), **kwargs)


def build(lib):
    """A nested model with a shared layer, a buffer, a non-persistent buffer and a None slot."""

    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(4, 4)
            self.norm = lib.nn.LayerNorm(4)
            self.drop = lib.nn.Dropout(0.25)
            self.register_buffer("count", lib.zeros(2))
            self.register_buffer("cache", lib.ones(3), persistent=False)

        def forward(self, x):
            return self.drop(self.norm(self.fc(x)))

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = lib.nn.ModuleList([Block(), Block()])
            self.head = lib.nn.Sequential(lib.nn.Linear(4, 2, bias=False), lib.nn.Identity())
            self.tied = self.head[0]
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.register_parameter("unused", None)
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(2, 1), "b": lib.nn.Identity()})

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.head(x) * self.scale

    return Net()


def test_names_and_traversal_match_torch():
    t, e = both(build)
    for method in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        t_names = [name for name, _ in getattr(t, method)()]
        assert [name for name, _ in getattr(e, method)()] == t_names, method
    assert len(list(e.parameters())) == len(list(t.parameters()))  # the tied layer counts once
    assert len(list(e.modules())) == len(list(t.modules()))
    assert len(list(e.children())) == len(list(t.children()))
    assert [n for n, _ in e.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in e.named_parameters(prefix="net", recurse=False)] == ["net.scale"]
    assert [n for n, _ in e.named_buffers(recurse=False)] == []
    assert list(e.state_dict()) == list(t.state_dict())
    assert "blocks.0.cache" not in e.state_dict()
    assert e.get_submodule("blocks.1.norm") is e.blocks[1].norm
    assert e.get_parameter("blocks.0.fc.bias") is e.blocks[0].fc.bias


@LIBS
def test_attribute_registration(lib):
    m = lib.nn.Module()
    p = lib.nn.Parameter(lib.ones(2))
    m.p = p
    m.child = lib.nn.Linear(2, 2)
    m.register_buffer("buf", lib.zeros(2))
    m.plain = 3
    assert m.p is p and "p" in m._parameters and "child" in m._modules and m.plain == 3
    # Reassigning a registered name to a plain tensor is refused for parameters...
    with pytest.raises(TypeError, match="cannot assign"):
        m.p = lib.ones(2)
    with pytest.raises(TypeError, match="cannot assign"):
        m.child = lib.ones(2)
    # ... but None clears the slot and keeps the name registered.
    m.p = None
    assert m.p is None and "p" in m._parameters
    assert [n for n, _ in m.named_parameters()] == ["child.weight", "child.bias"]
    # A buffer takes any tensor; a parameter under a buffer's name moves it to _parameters.
    m.buf = lib.ones(3)
    assert m.buf.shape == (3,) and "buf" in m._buffers
    m.buf = lib.nn.Parameter(lib.ones(1))
    assert "buf" in m._parameters and "buf" not in m._buffers
    # A module replacing a plain attribute is registered.
    m.plain = lib.nn.Identity()
    assert "plain" in m._modules and "plain" not in m.__dict__
    del m.child
    assert not hasattr(m, "child") and "child" not in m._modules
    del m.buf
    assert "buf" not in m._parameters
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        m.missing
    with pytest.raises(KeyError):
        m.register_buffer("a.b", lib.zeros(1))
    with pytest.raises(TypeError):
        m.register_parameter("q", lib.ones(1))


@LIBS
def test_assign_before_init_fails(lib):
    class Bad(lib.nn.Module):
        def __init__(self):
            self.fc = lib.nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_non_persistent_buffers_are_not_saved():
    for lib in (torch, ember):
        m = lib.nn.Module()
        m.register_buffer("kept", lib.zeros(1))
        m.register_buffer("temp", lib.zeros(1), persistent=False)
        assert list(m.state_dict()) == ["kept"]
        assert [n for n, _ in m.named_buffers()] == ["kept", "temp"]
        m.register_buffer("temp", lib.zeros(1))
        assert list(m.state_dict()) == ["kept", "temp"]


def load(lib, state, strict=True):
    model = build(lib)
    return model, model.load_state_dict(state, strict=strict)


def test_load_state_dict_round_trip_and_values():
    t_src, e_src = both(build)
    e_state = e_src.state_dict()
    e_dst, result = load(ember, e_state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for name, value in e_dst.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), e_state[name].numpy())
    assert all(not v.requires_grad for v in e_state.values())
    assert e_src.state_dict(keep_vars=True)["scale"] is e_src.scale
    # A torch state dict's values load into the same Ember model.
    e_dst.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t_src.state_dict().items()})
    np.testing.assert_array_equal(e_dst.blocks[1].fc.weight.detach().numpy(),
                                  t_src.blocks[1].fc.weight.detach().numpy())


def test_load_state_dict_incompatible_keys_match_torch():
    def edit(lib):
        state = build(lib).state_dict()
        del state["blocks.0.fc.bias"]
        del state["scale"]
        state["extra.weight"] = lib.zeros(1)
        return state

    t_state, e_state = both(edit)
    _, t_result = load(torch, t_state, strict=False)
    _, e_result = load(ember, e_state, strict=False)
    assert e_result.missing_keys == t_result.missing_keys
    assert e_result.unexpected_keys == t_result.unexpected_keys
    for lib, state in ((torch, t_state), (ember, e_state)):
        with pytest.raises(RuntimeError) as info:
            load(lib, state)
        message = str(info.value)
        assert message == ('Error(s) in loading state_dict for Net:\n\tMissing key(s) in '
                           'state_dict: "scale", "blocks.0.fc.bias". \n\tUnexpected key(s) in '
                           'state_dict: "extra.weight". ')


def test_load_state_dict_size_mismatch_matches_torch():
    messages = []
    for lib in (torch, ember):
        state = build(lib).state_dict()
        state["head.0.weight"] = lib.zeros(3, 4)
        for strict in (True, False):
            with pytest.raises(RuntimeError) as info:
                load(lib, state, strict=strict)
            messages.append(str(info.value).split("\n\t", 1)[1])
    torch_messages = [m.replace("ember.", "torch.") for m in messages[2:]]
    assert torch_messages == messages[:2]
    assert messages[0] == ("size mismatch for head.0.weight: copying a param with shape "
                           "torch.Size([3, 4]) from checkpoint, the shape in current model is "
                           "torch.Size([2, 4]).")


@LIBS
def test_train_eval_propagate(lib):
    model = build(lib)
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    model.blocks.train()
    assert model.blocks[1].drop.training and not model.head.training and not model.training
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        model.train("yes")


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    def run(lib):
        model = build(lib)
        model(lib.ones(3, 4)).sum().backward()
        grad = model.scale.grad
        model.zero_grad(set_to_none=set_to_none)
        if set_to_none:
            return [p.grad is None for p in model.parameters()]
        assert model.scale.grad is grad  # zeroed in place
        return [None if p.grad is None else (p.grad.numpy().tolist(), p.grad.requires_grad)
                for p in model.parameters()]

    t, e = both(run)
    assert e == t


@LIBS
def test_apply_visits_children_first(lib):
    model = build(lib)
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen[-1] == "Net" and seen[:4] == ["Linear", "LayerNorm", "Dropout", "Block"]


def test_apply_order_matches_torch():
    def order(lib):
        seen = []
        build(lib).apply(lambda m: seen.append(type(m).__name__))
        return seen

    t, e = both(order)
    assert e == t


def test_to_dtype_casts_floating_parameters_and_buffers_in_place():
    def run(lib):
        model = build(lib)
        model.register_buffer("index", lib.tensor([1, 2]))
        weight = model.head[0].weight
        assert model.to(lib.float64) is model
        assert model.head[0].weight is weight  # the same Parameter object
        dtypes = [str(t.dtype).split(".")[1] for t in model.state_dict().values()]
        model.double().float()
        return dtypes, str(model.scale.dtype).split(".")[1], model.scale.requires_grad

    t, e = both(run)
    assert e == t


@LIBS
def test_requires_grad_(lib):
    model = build(lib)
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.head.requires_grad_()
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.0.weight"]


def test_forward_hooks_and_removal():
    def run(lib):
        calls = []
        layer = lib.nn.Linear(2, 2)

        def pre(module, args):
            calls.append(("pre", len(args)))
            return (args[0] * 2,)

        def post(module, args, output):
            calls.append(("post", tuple(args[0].shape)))
            return output + 1

        pre_handle = layer.register_forward_pre_hook(pre)
        post_handle = layer.register_forward_hook(post)
        x = tensor(lib, [[1.0, 2.0]])
        hooked = layer(x)
        expected = layer.forward(x * 2) + 1
        assert np.allclose(hooked.detach().numpy(), expected.detach().numpy())
        pre_handle.remove()
        post_handle.remove()
        pre_handle.remove()  # removing twice is harmless
        plain = layer(x)
        assert np.allclose(plain.detach().numpy(), layer.forward(x).detach().numpy())
        # A pre-hook may return a single value instead of a tuple.
        with layer.register_forward_pre_hook(lambda m, args: args[0] * 0):
            zeroed = layer(x)
        assert np.allclose(zeroed.detach().numpy(), layer.bias.detach().numpy())
        assert len(layer._forward_pre_hooks) == 0
        return calls

    t, e = both(run)
    assert e == t == [("pre", 1), ("post", (1, 2))]


def test_sequential_behaviour():
    def run(lib):
        seq = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Identity(), lib.nn.Linear(3, 1))
        out = {"len": len(seq), "types": [type(m).__name__ for m in seq]}
        out["neg"] = type(seq[-1]).__name__
        sliced = seq[1:]
        out["slice"] = (type(sliced).__name__, list(sliced._modules))
        seq.append(lib.nn.Identity())
        del seq[1]
        out["after_del"] = list(seq._modules)
        seq[0] = lib.nn.Identity()
        out["after_set"] = [type(m).__name__ for m in seq]
        named = lib.nn.Sequential(OrderedDict([("first", lib.nn.Linear(1, 1)),
                                               ("act", lib.nn.Identity())]))
        out["named"] = [n for n, _ in named.named_children()]
        with pytest.raises(IndexError):
            seq[10]
        return out

    t, e = both(run)
    assert e == t


def test_sequential_forward():
    t, e = both(lambda lib: lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Linear(3, 1)))
    e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_module_list_behaviour():
    def run(lib):
        layers = lib.nn.ModuleList([lib.nn.Linear(1, 1), lib.nn.Identity()])
        layers.append(lib.nn.Dropout())
        layers.extend([lib.nn.LayerNorm(1), lib.nn.Identity()])
        layers.insert(1, lib.nn.Linear(2, 2))
        layers.insert(len(layers), lib.nn.Dropout(0.1))
        del layers[2]
        out = {"len": len(layers), "names": list(layers._modules),
               "types": [type(m).__name__ for m in layers],
               "neg": type(layers[-2]).__name__,
               "slice": [type(m).__name__ for m in layers[1:4]],
               "slice_type": type(layers[::2]).__name__,
               "params": [n for n, _ in layers.named_parameters()]}
        layers[0] = lib.nn.Identity()
        out["after_set"] = type(layers[0]).__name__
        with pytest.raises(IndexError):
            layers[20]
        return out

    t, e = both(run)
    assert e == t


def test_module_dict_behaviour():
    def run(lib):
        heads = lib.nn.ModuleDict({"b": lib.nn.Linear(1, 1), "a": lib.nn.Identity()})
        heads["c"] = lib.nn.Dropout()
        heads.update([("d", lib.nn.Identity())])
        out = {"keys": list(heads.keys()), "iter": list(heads), "len": len(heads),
               "contains": ("a" in heads, "z" in heads),
               "items": [(k, type(v).__name__) for k, v in heads.items()],
               "values": [type(v).__name__ for v in heads.values()]}
        popped = heads.pop("b")
        del heads["c"]
        out["after"] = (type(popped).__name__, list(heads.keys()))
        with pytest.raises(KeyError):
            heads["missing"]
        return out

    t, e = both(run)
    assert e == t


def test_repr_matches_torch():
    t, e = both(build)
    assert repr(e) == repr(t)
    t, e = both(lambda lib: lib.nn.Sequential())
    assert repr(e) == repr(t)
    t, e = both(lambda lib: lib.nn.LayerNorm([2, 3], eps=1e-6, elementwise_affine=False))
    assert repr(e) == repr(t)
    t, e = both(lambda lib: lib.nn.Dropout(p=0.3, inplace=True))
    assert repr(e) == repr(t)


def test_parameter_repr_matches_torch():
    t, e = both(lambda lib: lib.nn.Parameter(tensor(lib, [[1.0, 2.5], [-3.0, 0.125]])))
    assert repr(e).replace("ember", "torch") == repr(t)
    t, e = both(lambda lib: lib.nn.Parameter(tensor(lib, [1.0]), requires_grad=False))
    assert repr(e).replace("ember", "torch") == repr(t)


def test_parameter_basics():
    p = ember.nn.Parameter(ember.ones(2))
    assert p.requires_grad and p.is_leaf and isinstance(p, ember.Tensor)
    assert not ember.nn.Parameter(ember.ones(2), requires_grad=False).requires_grad
    assert ember.nn.Parameter().shape == torch.nn.Parameter().shape


def test_deepcopy_matches_torch():
    def run(lib):
        model = build(lib)
        model(lib.ones(2, 4)).sum().backward()
        clone = copy.deepcopy(model)
        with lib.no_grad():
            model.scale.add_(1)
        return {
            "independent": [c is not o for c, o in zip(clone.parameters(), model.parameters())],
            "tied": clone.tied is clone.head[0],
            "types": [type(p).__name__ for p in clone.parameters()],
            "requires_grad": [p.requires_grad for p in clone.parameters()],
            "grads": [p.grad is None for p in clone.parameters()],
            "scale": clone.scale.detach().numpy().tolist(),
            "buffers": [n for n, _ in clone.named_buffers()],
            "repr": repr(clone) == repr(model),
        }

    t, e = both(run)
    assert e == t
    assert all(e["independent"]) and e["tied"] and e["scale"] == [1.0]


def test_deepcopy_of_a_tensor_keeps_requires_grad_and_grad():
    x = ember.ones(2, requires_grad=True)
    x.grad = ember.full((2,), 3.0)
    y = copy.deepcopy(x)
    assert y is not x and y.requires_grad and y.grad.numpy().tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)
