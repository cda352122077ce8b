"""In-place operations: values, version counters and autograd, side by side with PyTorch."""

import numpy as np
import pytest
import torch

import ember

X = np.array([[0.5, -1.25, 2.0], [1.5, -0.75, 0.25]], dtype=np.float32)
Y = np.array([[1.5, 0.5, -2.0], [0.75, 2.5, -0.5]], dtype=np.float32)
POS = np.array([[0.5, 1.25, 2.0], [1.5, 0.75, 0.25]], dtype=np.float32)


def close(e, t, atol=1e-6, rtol=1e-5):
    np.testing.assert_allclose(np.asarray(e.detach()), t.detach().numpy(), atol=atol, rtol=rtol)


def lib_args(lib, args):
    """Test arguments with numpy arrays turned into tensors of `lib`."""
    return [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]


# name, base values, extra arguments (numpy arrays become tensors), keyword arguments
INPLACE_CASES = [
    ("add_", X, [Y], {}), ("add_", X, [2.5], {}), ("add_", X, [Y], {"alpha": 2}),
    ("sub_", X, [Y], {}), ("sub_", X, [Y[0]], {"alpha": 0.5}), ("mul_", X, [Y], {}),
    ("mul_", X, [3], {}), ("div_", X, [Y], {}), ("pow_", POS, [2.0], {}),
    ("pow_", POS, [Y], {}), ("neg_", X, [], {}), ("abs_", X, [], {}), ("exp_", X, [], {}),
    ("log_", POS, [], {}), ("sqrt_", POS, [], {}), ("sin_", X, [], {}), ("cos_", X, [], {}),
    ("tanh_", X, [], {}), ("sigmoid_", X, [], {}), ("relu_", X, [], {}), ("floor_", X, [], {}),
    ("ceil_", X, [], {}), ("round_", X, [], {}), ("clamp_", X, [-1.0, 1.0], {}),
    ("clamp_", X, [], {"min": 0.0}), ("clip_", X, [-0.5, 0.5], {}),
    ("reciprocal_", POS, [], {}), ("remainder_", X, [0.7], {}), ("lerp_", X, [Y, 0.3], {}), ("addcmul_", X, [Y, POS], {"value": 0.5}),
    ("addcdiv_", X, [Y, POS], {"value": 2}), ("square_", X, [], {}), ("erf_", X, [], {}),
    ("masked_fill_", X, [X > 0, 0.5], {}), ("log1p_", POS, [], {}), ("expm1_", X, [], {}),
    ("rsqrt_", POS, [], {}), ("sign_", X, [], {}), ("trunc_", X, [], {}), ("fmod_", X, [0.7], {}),
    ("tan_", X, [], {}), ("log2_", POS, [], {}), ("log10_", POS, [], {}), ("frac_", X, [], {}),
    ("atan2_", X, [Y], {}), ("floor_divide_", X, [0.7], {}), ("clamp_min_", X, [0.1], {}),
    ("clamp_max_", X, [0.1], {}), ("logical_not_", X, [], {}), ("logical_and_", X, [Y], {}),
    ("logical_or_", X, [Y * 0], {}), ("logical_xor_", X, [Y], {}), ("eq_", X, [X], {}),
    ("ne_", X, [0.5], {}), ("lt_", X, [Y], {}), ("le_", X, [Y], {}), ("gt_", X, [0.0], {}),
    ("ge_", X, [Y], {}),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(INPLACE_CASES)]
# Methods whose derivative is meaningful everywhere on the test values (not piecewise constant).
SMOOTH = {"add_", "sub_", "mul_", "div_", "pow_", "neg_", "exp_", "log_", "sqrt_", "sin_", "cos_",
          "tanh_", "sigmoid_", "reciprocal_", "lerp_", "addcmul_", "addcdiv_", "square_", "erf_",
          "log1p_", "expm1_", "rsqrt_", "tan_", "log2_", "log10_", "atan2_", "masked_fill_",
          "clamp_", "clip_", "abs_", "relu_", "clamp_min_", "clamp_max_"}


def test_every_inplace_method_is_tested():
    from ember.frontend.methods import _INPLACE

    assert set(_INPLACE) <= {c[0] for c in INPLACE_CASES}


@pytest.mark.parametrize("name, base, args, kwargs", INPLACE_CASES, ids=IDS)
def test_inplace_values_match_torch(name, base, args, kwargs):
    results = []
    for lib in (ember, torch):
        x = lib.tensor(base.copy())
        out = getattr(x, name)(*lib_args(lib, args), **kwargs)
        assert out is x and x._version == 1
        results.append(x)
    close(*results)


@pytest.mark.parametrize("name, base, args, kwargs",
                         [c for c in INPLACE_CASES if c[0] in SMOOTH],
                         ids=[i for i, c in zip(IDS, INPLACE_CASES) if c[0] in SMOOTH])
def test_inplace_gradients_on_non_leaf_match_torch(name, base, args, kwargs):
    results = []
    for lib in (ember, torch):
        x = lib.tensor(base.copy(), requires_grad=True)
        y = x * 1.5
        getattr(y, name)(*lib_args(lib, args), **kwargs)
        (y * lib.tensor(Y)).sum().backward()
        results.append(x.grad)
    close(*results, atol=1e-5)


def test_inplace_on_non_leaf_with_grad_requiring_operand():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(X.copy(), requires_grad=True)
        w = lib.tensor(Y.copy(), requires_grad=True)
        y = x.exp()
        y = y * 1
        y.mul_(w).add_(w.sin())
        a = lib.zeros(2, 3)
        a.mul_(w)  # a constant written with a tensor that requires grad
        (y.sum() + (a * a).sum()).backward()
        grads.append((x.grad, w.grad))
    close(grads[0][0], grads[1][0])
    close(grads[0][1], grads[1][1])


# --- version counter -------------------------------------------------------------------------

def test_version_counter_matches_torch():
    versions = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0, 3.0])
        seen = [x._version]
        x.add_(1)
        seen.append(x._version)
        x.mul_(2).sub_(1)
        seen.append(x._version)
        v = x[1:]
        v.zero_()
        seen += [x._version, v._version]
        x[0] = 5.0
        seen += [x._version, v._version]
        seen.append((x + 1)._version)
        x += 1
        seen.append(x._version)
        versions.append(seen)
    assert versions[0] == versions[1]


def test_modified_saved_tensor_raises():
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_unsaved_tensor_may_be_modified():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x + 1
        y.mul_(2)
        (y * y).sum().backward()
        grads.append(x.grad)
    close(*grads)


# --- leaves ----------------------------------------------------------------------------------

def test_inplace_on_leaf_requiring_grad_raises():
    for lib in (ember, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            w.add_(1)
        with pytest.raises(RuntimeError, match="leaf"):
            w[0] = 3.0
        with pytest.raises(RuntimeError, match="leaf"):
            w[1:].mul_(2)
        with pytest.raises(RuntimeError, match="leaf"):
            w.zero_()
        with lib.no_grad():
            w.mul_(3)
            w[0] = 7.0
        assert w.tolist() == [7.0, 6.0] and w.requires_grad and w.is_leaf


def test_optimizer_update_pattern_matches_torch():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((16, 3)).astype(np.float32)
    targets = (inputs @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    history = []
    for lib in (ember, torch):
        w = lib.zeros(3, 1, requires_grad=True)
        b = lib.zeros(1, requires_grad=True)
        xs, ys = lib.tensor(inputs), lib.tensor(targets)
        losses = []
        for _ in range(5):
            loss = ((xs @ w + b - ys) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
            w.grad.zero_()
            b.grad.zero_()
            losses.append(loss.item())
        assert w.is_leaf and w.requires_grad and w.grad.tolist() == [[0.0]] * 3
        history.append((losses, w, b))
    np.testing.assert_allclose(history[0][0], history[1][0], rtol=1e-5)
    assert history[0][0][-1] < history[0][0][0]
    close(history[0][1], history[1][1])
    close(history[0][2], history[1][2])


# --- views of non-leaf tensors ---------------------------------------------------------------

@pytest.mark.parametrize("edit", [
    lambda y: y[1:].mul_(2),
    lambda y: y.view(-1).add_(1),
    lambda y: y.t().mul_(y.t().detach() + 1),
    lambda y: y[0].exp_(),
    lambda y: y[:, ::2].zero_(),
    lambda y: y.__setitem__((1, 2), 4.0),
    lambda y: y[0].copy_(y[1] * 3),
], ids=["slice_mul", "view_add", "t_mul", "row_exp", "strided_zero", "setitem", "row_copy"])
def test_inplace_on_views_of_non_leaf(edit):
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(X.copy(), requires_grad=True)
        y = x * 1
        edit(y)
        (y * y * lib.tensor(Y)).sum().backward()
        grads.append((x.grad, y))
    close(grads[0][0], grads[1][0])
    close(grads[0][1], grads[1][1])


def test_view_sees_base_history_after_write():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        v = y[:2]
        y.mul_(x)  # write through the base: the view's history follows
        assert v.requires_grad
        (v * 10).sum().backward()
        grads.append(x.grad)
    close(*grads)


def test_setitem_with_grad_requiring_value():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        s = lib.tensor(5.0, requires_grad=True)
        y = x * 2
        y[1] = s * s
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        grads.append((x.grad, s.grad))
    close(grads[0][0], grads[1][0])
    close(grads[0][1], grads[1][1])


def test_retain_grad_follows_inplace():
    results = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.mul_(3)
        (y * y).sum().backward()
        results.append(y.grad)
    close(*results)


# --- zero_, fill_, copy_ ---------------------------------------------------------------------

def test_zero_fill_values():
    for lib in (ember, torch):
        x = lib.tensor(X.copy())
        assert x.zero_() is x and x.tolist() == [[0.0] * 3] * 2
        x.fill_(2.5)
        assert x.tolist() == [[2.5] * 3] * 2
        x.fill_(lib.tensor(-1.0))
        assert x.tolist() == [[-1.0] * 3] * 2
        i = lib.tensor([1, 2, 3])
        i.fill_(7)
        assert i.tolist() == [7, 7, 7]
        assert x._version == 3


def test_copy_broadcasts_and_casts():
    results = []
    for lib in (ember, torch):
        x = lib.zeros(2, 3)
        x.copy_(lib.tensor([1, 2, 3]))  # int64 -> float32, broadcast over rows
        i = lib.zeros(2, 3, dtype=lib.int64)
        i.copy_(lib.tensor([[1.7, -2.7, 3.2]]))  # float -> int truncates
        assert x.dtype == lib.float32 and i.dtype == lib.int64
        results.append((x.tolist(), i.tolist()))
        with pytest.raises(RuntimeError):
            x.copy_(lib.ones(4))
    assert results[0] == results[1]


def test_copy_and_zero_keep_autograd_connected():
    grads = []
    for lib in (ember, torch):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        a = lib.zeros(2, 3)
        a.copy_(w)  # a leaf copied in gets the incoming gradient
        assert a.requires_grad and not a.is_leaf
        x = lib.tensor([4.0, 5.0], requires_grad=True)
        y = x * 2
        y.zero_()  # still part of the graph; x gets zero gradient
        assert y.requires_grad
        ((a * a).sum() + y.sum()).backward()
        grads.append((w.grad, x.grad))
    close(grads[0][0], grads[1][0])
    close(grads[0][1], grads[1][1])


# --- dtype rules -----------------------------------------------------------------------------

@pytest.mark.parametrize("op", [
    lambda t, lib: t.add_(1.5), lambda t, lib: t.div_(2), lambda t, lib: t.mul_(lib.tensor(0.5)),
    lambda t, lib: t.sqrt_(),
])
def test_int_tensor_rejects_float_result(op):
    for lib in (ember, torch):
        t = lib.tensor([1, 2])
        with pytest.raises(RuntimeError, match="can't be cast"):
            op(t, lib)
        assert t.tolist() == [1, 2] and t._version == 0


def test_float_result_written_into_lower_precision():
    results = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float16)
        x.add_(lib.tensor([0.1, 0.2], dtype=lib.float64))
        i = lib.tensor([1, 2])
        i.add_(lib.tensor([True, False]))
        assert x.dtype == lib.float16
        results.append((x.tolist(), i.tolist()))
    assert results[0] == results[1]


def test_augmented_assignment_is_in_place():
    for lib in (ember, torch):
        x = lib.tensor([4.0, 6.0])
        before = x
        x += 1
        x -= 0.5
        x *= 2
        x /= 3
        x **= 2
        x //= 2
        x %= 3
        assert x is before and x._version == 7
    e, t = ember.tensor([4.0, 6.0]), torch.tensor([4.0, 6.0])
    for v in (e, t):
        v += 1
        v *= 2
    assert e.tolist() == t.tolist()


def test_operand_saved_only_for_a_gradient_that_is_needed():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 1
        z = y * 3  # y's value is needed only for the gradient of the constant 3
        y.add_(1)
        z.sum().backward()
        grads.append(x.grad)
    close(*grads)
