"""ember.optim optimizers against torch.optim: the same model, data and hyperparameters give the
same parameters after every step, the same state and the same state dicts."""

import numpy as np
import pytest
import torch

import ember

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.2, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    ("Adagrad", dict(lr=0.05, eps=1e-6, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=2.0, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for name, kw in CASES]
OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"]
ONE_CASE = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.01, amsgrad=True),
            "AdamW": dict(lr=0.01), "RMSprop": dict(lr=0.01, momentum=0.5, centered=True),
            "Adagrad": dict(lr=0.1, lr_decay=0.01), "Adadelta": dict(lr=1.0)}


class Pair:
    """The same model in both libraries: y = tanh(Linear(4, 3)(x)) * scale, plus an MSE loss."""

    def __init__(self, dtype: str, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        weight, bias = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, 3)
        scale = rng.uniform(0.5, 1.5, 3)
        self.dtype = dtype
        self.t_linear = torch.nn.Linear(4, 3).to(getattr(torch, dtype))
        self.e_linear = ember.nn.Linear(4, 3, dtype=getattr(ember, dtype))
        with torch.no_grad():
            self.t_linear.weight.copy_(torch.tensor(weight))
            self.t_linear.bias.copy_(torch.tensor(bias))
        with ember.no_grad():
            self.e_linear.weight.copy_(ember.tensor(weight))
            self.e_linear.bias.copy_(ember.tensor(bias))
        self.t_scale = torch.nn.Parameter(torch.tensor(scale, dtype=getattr(torch, dtype)))
        self.e_scale = ember.nn.Parameter(ember.tensor(scale, dtype=getattr(ember, dtype)))

    def torch_params(self):
        return [self.t_linear.weight, self.t_linear.bias, self.t_scale]

    def ember_params(self):
        return [self.e_linear.weight, self.e_linear.bias, self.e_scale]

    def backward(self, step: int) -> tuple[float, float]:
        """Compute the loss on batch `step` in both libraries and backpropagate it."""
        rng = np.random.default_rng(100 + step)
        x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
        tx, ty = (torch.tensor(a, dtype=getattr(torch, self.dtype)) for a in (x, y))
        ex, ey = (ember.tensor(a, dtype=getattr(ember, self.dtype)) for a in (x, y))
        t_loss = ((torch.tanh(self.t_linear(tx)) * self.t_scale - ty) ** 2).mean()
        e_loss = ((ember.tanh(self.e_linear(ex)) * self.e_scale - ey) ** 2).mean()
        t_loss.backward()
        e_loss.backward()
        return t_loss.item(), e_loss.item()

    def assert_close(self, what: str = "") -> None:
        for i, (t, e) in enumerate(zip(self.torch_params(), self.ember_params())):
            np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(),
                                       err_msg=f"param {i} {what}", **TOL[self.dtype])


def run(pair: Pair, t_opt, e_opt, steps, check: bool = True) -> None:
    for step in steps:
        t_opt.zero_grad()
        e_opt.zero_grad()
        pair.backward(step)
        t_opt.step()
        e_opt.step()
        if check:
            pair.assert_close(f"after step {step}")


def to_ember(value):
    """A torch state value (tensor, or nested containers of them) as Ember values."""
    if isinstance(value, torch.Tensor):
        return ember.tensor(value.numpy(), dtype=getattr(ember, str(value.dtype)[6:]))
    if isinstance(value, dict):
        return {k: to_ember(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_matches_torch_over_ten_steps(name, kwargs, dtype):
    pair = Pair(dtype)
    t_opt = getattr(torch.optim, name)(pair.torch_params(), **kwargs)
    e_opt = getattr(ember.optim, name)(pair.ember_params(), **kwargs)
    run(pair, t_opt, e_opt, range(10))
    for t_p, e_p in zip(pair.torch_params(), pair.ember_params()):
        t_state, e_state = t_opt.state[t_p], e_opt.state[e_p]
        assert sorted(e_state) == sorted(t_state)
        for key, t_value in t_state.items():
            assert e_state[key].dtype.name == str(t_value.dtype)[6:]
            np.testing.assert_allclose(e_state[key].numpy(), t_value.numpy(), **TOL[dtype])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_param_groups_with_their_own_lr(name):
    pair = Pair("float64", seed=1)
    t_w, t_b, t_s = pair.torch_params()
    e_w, e_b, e_s = pair.ember_params()
    kwargs = dict(ONE_CASE[name])
    lr = kwargs.pop("lr")
    t_opt = getattr(torch.optim, name)([{"params": [t_w]}, {"params": [t_b, t_s], "lr": lr / 4}],
                                       lr=lr, **kwargs)
    e_opt = getattr(ember.optim, name)([{"params": [e_w]}, {"params": [e_b, e_s], "lr": lr / 4}],
                                       lr=lr, **kwargs)
    assert [g["lr"] for g in e_opt.param_groups] == [lr, lr / 4]
    run(pair, t_opt, e_opt, range(10))


def test_add_param_group_matches_torch():
    pair = Pair("float32", seed=2)
    t_w, t_b, t_s = pair.torch_params()
    e_w, e_b, e_s = pair.ember_params()
    t_opt = torch.optim.Adam([t_w, t_b], lr=0.01)
    e_opt = ember.optim.Adam([e_w, e_b], lr=0.01)
    run(pair, t_opt, e_opt, range(3))
    t_opt.add_param_group({"params": t_s, "lr": 0.05, "betas": (0.5, 0.6)})
    e_opt.add_param_group({"params": e_s, "lr": 0.05, "betas": (0.5, 0.6)})
    assert e_opt.param_groups[1]["eps"] == 1e-8
    run(pair, t_opt, e_opt, range(3, 8))


def _check_same_structure(t_sd, e_sd) -> None:
    assert list(e_sd) == ["state", "param_groups"]
    assert list(e_sd["state"]) == list(t_sd["state"])
    for index, t_state in t_sd["state"].items():
        assert list(e_sd["state"][index]) == list(t_state)
        for key, t_value in t_state.items():
            e_value = e_sd["state"][index][key]
            assert tuple(e_value.shape) == tuple(t_value.shape), key
            assert e_value.dtype.name == str(t_value.dtype)[6:], key
    assert e_sd["param_groups"] == t_sd["param_groups"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_round_trip(name):
    kwargs = ONE_CASE[name]
    reference = Pair("float32", seed=3)
    t_ref = getattr(torch.optim, name)(reference.torch_params(), **kwargs)
    e_ref = getattr(ember.optim, name)(reference.ember_params(), **kwargs)
    run(reference, t_ref, e_ref, range(10), check=False)

    pair = Pair("float32", seed=3)
    t_opt = getattr(torch.optim, name)(pair.torch_params(), **kwargs)
    e_opt = getattr(ember.optim, name)(pair.ember_params(), **kwargs)
    run(pair, t_opt, e_opt, range(5), check=False)
    t_sd, e_sd = t_opt.state_dict(), e_opt.state_dict()
    _check_same_structure(t_sd, e_sd)

    t_resumed = getattr(torch.optim, name)(pair.torch_params(), lr=0.5)
    e_resumed = getattr(ember.optim, name)(pair.ember_params(), lr=0.5)
    t_resumed.load_state_dict(t_sd)
    e_resumed.load_state_dict(e_sd)
    assert e_resumed.param_groups[0]["lr"] == kwargs["lr"]
    assert e_resumed.param_groups[0]["params"][0] is pair.ember_params()[0]
    run(pair, t_resumed, e_resumed, range(5, 10), check=False)
    for e_p, e_ref_p in zip(pair.ember_params(), reference.ember_params()):
        np.testing.assert_allclose(e_p.detach().numpy(), e_ref_p.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)
    pair.assert_close("after resuming")
    _check_same_structure(t_resumed.state_dict(), e_resumed.state_dict())


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_load_a_torch_state_dict(name):
    kwargs = ONE_CASE[name]
    pair = Pair("float64", seed=4)
    t_opt = getattr(torch.optim, name)(pair.torch_params(), **kwargs)
    e_opt = getattr(ember.optim, name)(pair.ember_params(), **kwargs)
    for step in range(4):
        t_opt.zero_grad()
        e_opt.zero_grad()
        pair.backward(step)
        t_opt.step()
    with ember.no_grad():
        for t_p, e_p in zip(pair.torch_params(), pair.ember_params()):
            e_p.copy_(ember.tensor(t_p.detach().numpy()))
    e_opt.load_state_dict(to_ember(t_opt.state_dict()))
    run(pair, t_opt, e_opt, range(4, 8))


def test_state_dict_casts_state_to_the_parameter_dtype():
    pair = Pair("float64")
    opt = ember.optim.Adam(pair.ember_params())
    pair.backward(0)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0] = {k: v.float() for k, v in sd["state"][0].items()}
    fresh = ember.optim.Adam(pair.ember_params())
    fresh.load_state_dict(sd)
    state = fresh.state[pair.ember_params()[0]]
    assert state["exp_avg"].dtype == ember.float64
    assert state["step"].dtype == ember.float32  # the step count keeps its dtype


def test_load_state_dict_rejects_a_different_layout():
    pair = Pair("float32")
    opt = ember.optim.SGD(pair.ember_params(), lr=0.1)
    other = ember.optim.SGD([{"params": pair.ember_params()[:1]},
                             {"params": pair.ember_params()[1:]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    smaller = ember.optim.SGD(pair.ember_params()[:2], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(smaller.state_dict())


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    pair = Pair("float32")
    t_opt = torch.optim.SGD(pair.torch_params(), lr=0.1)
    e_opt = ember.optim.SGD(pair.ember_params(), lr=0.1)
    pair.backward(0)
    e_grads = [p.grad for p in pair.ember_params()]
    t_opt.zero_grad(set_to_none=set_to_none)
    e_opt.zero_grad(set_to_none=set_to_none)
    for t_p, e_p, e_grad in zip(pair.torch_params(), pair.ember_params(), e_grads):
        assert (e_p.grad is None) == (t_p.grad is None) == set_to_none
        if not set_to_none:
            assert e_p.grad is e_grad  # zeroed in place, as torch does
            assert not e_p.grad.requires_grad
            np.testing.assert_array_equal(e_p.grad.numpy(), t_p.grad.numpy())
    e_opt.zero_grad()
    assert all(p.grad is None for p in pair.ember_params())


def test_step_skips_parameters_without_gradients():
    pair = Pair("float32")
    e_w, e_b, e_s = pair.ember_params()
    t_w, t_b, t_s = pair.torch_params()
    t_opt = torch.optim.Adam(pair.torch_params(), lr=0.1)
    e_opt = ember.optim.Adam(pair.ember_params(), lr=0.1)
    for step in range(3):
        pair.backward(step)
        t_s.grad = e_s.grad = None
        t_opt.step()
        e_opt.step()
        pair.assert_close()
    assert e_s not in e_opt.state and len(e_opt.state_dict()["state"]) == 2


def test_step_with_closure_returns_the_loss():
    pair = Pair("float64")
    t_opt = torch.optim.SGD(pair.torch_params(), lr=0.1, momentum=0.9)
    e_opt = ember.optim.SGD(pair.ember_params(), lr=0.1, momentum=0.9)
    losses = []

    def closure():
        e_opt.zero_grad()
        t_opt.zero_grad()
        losses.append(pair.backward(len(losses)))
        return losses[-1][1]

    for _ in range(3):
        with ember.no_grad():  # the closure still records gradients
            e_loss = e_opt.step(closure)
        t_opt.step()
        assert e_loss == losses[-1][1]
        pair.assert_close()
    assert losses[0][0] == pytest.approx(losses[0][1], rel=1e-12)


def test_named_parameters_record_param_names():
    linear = ember.nn.Linear(4, 3)
    opt = ember.optim.SGD(linear.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_and_repr_match_torch(name):
    t_opt = getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    e_opt = getattr(ember.optim, name)([ember.nn.Parameter(ember.ones(2))], lr=0.1)
    assert e_opt.defaults == t_opt.defaults
    assert repr(e_opt) == repr(t_opt)


def test_adagrad_state_exists_from_construction():
    p = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.Adagrad([p], initial_accumulator_value=0.5)
    np.testing.assert_array_equal(opt.state[p]["sum"].numpy(), [0.5, 0.5])
    assert opt.state[p]["step"].item() == 0.0


@pytest.mark.parametrize("make, message", [
    (lambda p: ember.optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: ember.optim.SGD(p, lr=0.1), "iterable of Tensors or dicts"),
    (lambda p: ember.optim.SGD([{"params": {p}}], lr=0.1), "ordered collections"),
    (lambda p: ember.optim.SGD([p * 2], lr=0.1), "non-leaf Tensor"),
    (lambda p: ember.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1),
     "more than one parameter group"),
    (lambda p: ember.optim.SGD([p], lr=-1.0), "Invalid learning rate"),
    (lambda p: ember.optim.SGD([p], lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: ember.optim.Adam([p], betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    (lambda p: ember.optim.RMSprop([p], alpha=-0.5), "Invalid alpha value"),
    (lambda p: ember.optim.Adadelta([p], rho=1.5), "Invalid rho value"),
    (lambda p: ember.optim.Adagrad([p], lr_decay=-1), "Invalid lr_decay value"),
])
def test_invalid_arguments(make, message):
    p = ember.nn.Parameter(ember.ones(2))
    with pytest.raises((ValueError, TypeError), match=message):
        make(p)
