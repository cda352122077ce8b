"""Ember's autograd semantics checked side by side against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from ember.frontend.autograd.vjp_rules import VJP_RULES


def both(data, requires_grad=True, dtype="float32"):
    """The same values as an ember tensor and a torch tensor."""
    e = ember.tensor(np.array(data, dtype=dtype), requires_grad=requires_grad)
    t = torch.tensor(np.array(data, dtype=dtype), requires_grad=requires_grad)
    return e, t


def close(e, t, atol=1e-6, rtol=1e-5):
    assert e is not None and t is not None
    np.testing.assert_allclose(np.asarray(e.detach()), t.detach().numpy(), atol=atol, rtol=rtol)


# --- requires_grad, leaves, grad_fn ---------------------------------------------------------

def test_requires_grad_propagates_like_torch():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor([3.0, 4.0])
        assert (x * c).requires_grad and (c + x).requires_grad
        assert not (c * 2).requires_grad
        assert x.is_leaf and c.is_leaf and not (x * c).is_leaf
        assert x.grad_fn is None and (c * 2).grad_fn is None
        assert (c * 2).is_leaf
        # integer results (comparisons, casts) never require grad
        assert not (x > 1).requires_grad
        assert not x.long().requires_grad


@pytest.mark.parametrize("expr, prefix", [
    (lambda x: x + 1, "AddBackward"), (lambda x: x * x, "MulBackward"),
    (lambda x: x.exp(), "ExpBackward"), (lambda x: x.sum(), "SumBackward"),
    (lambda x: x / 2, "DivBackward"), (lambda x: -x, "NegBackward"),
])
def test_grad_fn_names(expr, prefix):
    e, t = both([1.0, 2.0])
    assert type(expr(t).grad_fn).__name__.startswith(prefix)
    assert expr(e).grad_fn.name().startswith(prefix)
    assert prefix in repr(expr(e).grad_fn)


def test_only_floating_tensors_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2], requires_grad=True)
    for lib in (ember, torch):
        i = lib.tensor([1, 2])
        with pytest.raises(RuntimeError, match="floating point"):
            i.requires_grad_()
        with pytest.raises(RuntimeError, match="floating point"):
            i.requires_grad = True


def test_requires_grad_flag_of_non_leaf_cannot_be_cleared():
    for lib in (ember, torch):
        y = lib.tensor([1.0], requires_grad=True) * 2
        with pytest.raises(RuntimeError, match="leaf"):
            y.requires_grad = False
        y.requires_grad_(True)  # allowed: a no-op


def test_requires_grad_():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0])
        assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
        (x * 3).sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]
        x.requires_grad_(False)
        assert not (x * 3).requires_grad


# --- backward --------------------------------------------------------------------------------

def test_backward_scalar_matches_torch():
    e, t = both([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    for x, lib in ((e, ember), (t, torch)):
        (lib.tanh(x) * x.exp() + x.sin() ** 2).mean().backward()
    close(e.grad, t.grad)


def test_backward_with_gradient_on_non_scalar():
    e, t = both([1.0, 2.0, 3.0])
    ge, gt = both([0.1, -1.0, 2.0], requires_grad=False)
    (e * e).backward(ge)
    (t * t).backward(gt)
    close(e.grad, t.grad)
    e.grad = None
    ember.autograd.backward([e * 3], [ge])
    close(e.grad, 3 * gt)


def test_backward_non_scalar_without_gradient_raises():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
            (x * 2).backward()


def test_backward_on_tensor_without_grad_raises():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.tensor(1.0).backward()


def test_grad_accumulates_over_two_backwards():
    e, t = both([1.0, -2.0])
    for x in (e, t):
        (x * x).sum().backward()
        (x * 3).sum().backward()
    close(e.grad, t.grad)
    assert e.grad.tolist() == [5.0, -1.0]


def test_second_backward_needs_retain_graph():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        assert np.allclose(x.grad.numpy(), 2 * (np.exp([1.0, 2.0]) * np.array([2.0, 3.0])))
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()


def test_diamond_graph_and_reuse():
    e, t = both([0.3, -1.2, 2.0])
    for x in (e, t):
        a = x * 2
        b = a.sin()
        c = a.exp()
        (b * c + a * a).sum().backward()
    close(e.grad, t.grad)
    e, t = both([0.5, 3.0])
    (e * e).sum().backward()
    (t * t).sum().backward()
    close(e.grad, t.grad)


def test_broadcast_gradients_are_reduced():
    e, t = both([[1.0], [2.0]])
    eb, tb = both([1.0, -1.0, 0.5])
    (e * eb).sum().backward()
    (t * tb).sum().backward()
    close(e.grad, t.grad)
    close(eb.grad, tb.grad)


# --- grad mode -------------------------------------------------------------------------------

def test_grad_mode_context_managers():
    for lib in (ember, torch):
        x = lib.tensor([1.0], requires_grad=True)
        assert lib.is_grad_enabled()
        with lib.no_grad():
            assert not lib.is_grad_enabled()
            y = x * 2
            assert not y.requires_grad and y.grad_fn is None
            with lib.enable_grad():
                assert lib.is_grad_enabled()
                assert (x * 2).requires_grad
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()
        with lib.set_grad_enabled(False):
            assert not (x * 2).requires_grad
        assert lib.is_grad_enabled()


def test_grad_mode_is_per_thread_and_on_in_new_threads():
    import threading

    for lib in (ember, torch):
        seen = []
        worker = threading.Thread(target=lambda: seen.append(lib.is_grad_enabled()))
        with lib.no_grad():
            worker.start()
            worker.join()
            assert not lib.is_grad_enabled()
        assert seen == [True]


def test_grad_mode_decorators():
    for lib in (ember, torch):
        x = lib.tensor([1.0], requires_grad=True)

        @lib.no_grad()
        def f(x):
            return x * 2

        @lib.no_grad
        def bare(x):
            return x * 2

        @lib.set_grad_enabled(False)
        def g(x):
            return x * 2

        @lib.enable_grad()
        def h(x):
            return x * 2

        assert lib.is_grad_enabled()  # decorating does not change the mode
        assert not f(x).requires_grad and not bare(x).requires_grad and not g(x).requires_grad
        with lib.no_grad():
            assert h(x).requires_grad
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()


def test_set_grad_enabled_as_a_call():
    for lib in (ember, torch):
        x = lib.tensor([1.0], requires_grad=True)
        try:
            lib.set_grad_enabled(False)
            assert not lib.is_grad_enabled()
            assert not (x + 1).requires_grad
        finally:
            lib.set_grad_enabled(True)
        assert lib.is_grad_enabled() and (x + 1).requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError
    assert ember.is_grad_enabled()


# --- detach, data, retain_grad, hooks --------------------------------------------------------

def test_detach_shares_storage_and_cuts_history():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        d = y.detach()
        assert not d.requires_grad and d.is_leaf and d.grad_fn is None
        d[0] = 10.0
        assert y[0].item() == 10.0
        assert d._version == y._version == 1
        (y.detach() * 3 + x).sum().backward()
        assert x.grad.tolist() == [1.0, 1.0]


def test_data_shares_storage_without_history():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        d = x.data
        assert not d.requires_grad
        d.mul_(3)  # no leaf error: .data is outside autograd
        assert x.tolist() == [3.0, 6.0]
        x.data = lib.tensor([5.0, 6.0])
        assert x.tolist() == [5.0, 6.0] and x.requires_grad


@pytest.mark.filterwarnings("ignore:The .grad attribute")
def test_retain_grad_on_non_leaf():
    e, t = both([1.0, 2.0, 3.0])
    results = []
    for x in (e, t):
        y = x * x
        y.retain_grad()
        z = y * 2
        assert y.retains_grad and not z.retains_grad
        (z * y).sum().backward()
        assert z.grad is None
        results.append(y.grad)
    close(*results)


def test_register_hook_modifies_gradient():
    e, t = both([1.0, 2.0])
    seen = []
    for x in (e, t):
        x.register_hook(lambda g: g * 10)  # on a leaf
        y = x * x
        y.register_hook(lambda g: seen.append(g.tolist()) or g + 1)  # on a non-leaf
        (y * 3).sum().backward()
    close(e.grad, t.grad)
    assert seen[0] == seen[1] == [3.0, 3.0]
    assert e.grad.tolist() == [80.0, 160.0]
    with pytest.raises(RuntimeError):
        ember.tensor([1.0]).register_hook(lambda g: g)


# --- ember.autograd.grad ---------------------------------------------------------------------

def test_grad_single_and_multiple_inputs():
    e1, t1 = both([1.0, 2.0])
    e2, t2 = both([0.5, -1.0])
    (ge,) = ember.autograd.grad((e1 * e1).sum(), e1)
    (gt,) = torch.autograd.grad((t1 * t1).sum(), t1)
    close(ge, gt)
    ge = ember.autograd.grad((e1 * e2.exp()).sum(), [e1, e2])
    gt = torch.autograd.grad((t1 * t2.exp()).sum(), [t1, t2])
    assert isinstance(ge, tuple) and len(ge) == 2
    close(ge[0], gt[0])
    close(ge[1], gt[1])
    assert e1.grad is None and e2.grad is None  # grad does not accumulate


def test_grad_with_grad_outputs_and_non_leaf_input():
    e, t = both([1.0, 2.0, 3.0])
    ve, vt = both([1.0, 0.0, -2.0], requires_grad=False)
    ye, yt = e * 2, t * 2
    (ge,) = ember.autograd.grad(ye.sin(), ye, grad_outputs=ve)
    (gt,) = torch.autograd.grad(yt.sin(), yt, grad_outputs=vt)
    close(ge, gt)


def test_grad_allow_unused():
    for lib in (ember, torch):
        x = lib.tensor([1.0], requires_grad=True)
        u = lib.tensor([1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="allow_unused"):
            lib.autograd.grad((x * 2).sum(), [x, u])
        gx, gu = lib.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
        assert gx.tolist() == [2.0] and gu is None


def test_grad_only_runs_the_needed_part_of_the_graph():
    # the path to `a` is not needed for d/dx, so its modified saved tensor is never read
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = lib.tensor([3.0, 4.0], requires_grad=True)
        y = a.exp()
        out = (x * 2).sum() + y.sum()
        y.add_(1)
        (g,) = lib.autograd.grad(out, x)
        assert g.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("fn", [
    lambda lib, x: x ** 3,
    lambda lib, x: lib.sin(x) * lib.tanh(x),
    lambda lib, x: lib.exp(lib.sin(x)),
    lambda lib, x: lib.tanh(x.exp() * 0.3) / (1 + x * x),
])
def test_second_derivative_with_create_graph(fn):
    e, t = both([0.3, -0.7, 1.1], dtype="float64")
    results = []
    for lib, x in ((ember, e), (torch, t)):
        (g,) = lib.autograd.grad(fn(lib, x).sum(), x, create_graph=True)
        assert g.requires_grad
        (g2,) = lib.autograd.grad(g.sum(), x)
        results.append((g, g2))
    close(results[0][0], results[1][0], atol=1e-12)
    close(results[0][1], results[1][1], atol=1e-12)


def test_second_derivative_of_cube_is_6x():
    x = ember.tensor(np.array([0.3, -0.7, 1.1]), requires_grad=True)
    (g,) = ember.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (g2,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * x.detach().numpy())


@pytest.mark.filterwarnings("ignore:Using backward")
def test_backward_create_graph_gives_differentiable_grad():
    e, t = both([0.5, 1.5], dtype="float64")
    for x in (e, t):
        (x ** 3).sum().backward(create_graph=True)
        assert x.grad.requires_grad
        g = x.grad
        x.grad = None
        g.sum().backward()
    close(e.grad, t.grad)


def test_backward_inputs():
    e1, t1 = both([1.0, 2.0])
    e2, t2 = both([3.0, 4.0])
    for a, b in ((e1, e2), (t1, t2)):
        (a * b).sum().backward(inputs=[a])
    close(e1.grad, t1.grad)
    assert e2.grad is None and t2.grad is None


# --- gradcheck -------------------------------------------------------------------------------

def test_gradcheck_passes_on_composite():
    x = ember.tensor(np.array([[0.3, -0.2], [0.9, 1.4]]), requires_grad=True)
    w = ember.tensor(np.array([[0.5, -1.0], [0.25, 0.75]]), requires_grad=True)

    def fn(x, w):
        return ((x @ w).tanh() * x.exp() + (x * w).sin().sum(1, keepdim=True)) / (1 + w * w)

    assert ember.autograd.gradcheck(fn, (x, w))


def test_gradcheck_catches_a_wrong_vjp():
    x = ember.tensor(np.array([0.3, -0.2, 0.8]), requires_grad=True)
    original = VJP_RULES["sin"]
    VJP_RULES["sin"] = lambda node, g: (g * node.input(0).sin(),)  # wrong: should be cos
    try:
        with pytest.raises(RuntimeError, match="Jacobian mismatch"):
            ember.autograd.gradcheck(lambda x: x.sin() * 2, (x,))
        assert not ember.autograd.gradcheck(lambda x: x.sin() * 2, (x,), raise_exception=False)
    finally:
        VJP_RULES["sin"] = original
    assert ember.autograd.gradcheck(lambda x: x.sin() * 2, (x,))


def test_gradcheck_requires_float64():
    x = ember.tensor([0.3], requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        ember.autograd.gradcheck(lambda x: x * 2, (x,))


@pytest.mark.parametrize("op", ["div", "matmul"])
def test_operand_modified_after_use_is_not_read_when_only_the_other_needs_grad(op):
    """Like torch, a VJP reads an operand only for the other operand's gradient."""
    grads = []
    for lib in (ember, torch):
        w = lib.ones(3, 3, dtype=lib.float64, requires_grad=True)
        y = w * 1
        constant = lib.full((3, 3), 2.0, dtype=lib.float64)
        out = y / constant if op == "div" else y @ constant
        y.add_(1)  # backward needs only `constant`, so the change to y is harmless
        out.sum().backward()
        grads.append(w.grad)
    close(grads[0], grads[1])
