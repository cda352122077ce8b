"""Loss functions and loss modules against PyTorch: values and gradients."""

import warnings

import numpy as np
import pytest
import torch

import ember
from nn_torch_helpers import FLOATS, check, to_pair, uniform

EF, TF = ember.nn.functional, torch.nn.functional
REDUCTIONS = ["none", "mean", "sum"]


def classes(shape, n, seed=0, ignore=None):
    """Random class indices; with `ignore`, about a quarter of them set to that value."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, n, shape)
    if ignore is not None:
        target[rng.uniform(size=shape) < 0.25] = ignore
        target.flat[0] = 1  # keep at least one counted target
    return target


# --- cross entropy and nll --------------------------------------------------------------------

CE_SHAPES = [((6, 5), (6,)), ((4, 3, 7), (4, 7)), ((2, 4, 3, 2), (2, 3, 2)), ((5,), ())]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
def test_cross_entropy_class_indices(shapes, reduction, dtype):
    (xshape, tshape), c = shapes, shapes[0][0 if len(shapes[0]) == 1 else 1]
    x, target = uniform(xshape), classes(tshape, c)
    check(lambda a, t: EF.cross_entropy(a, t, reduction=reduction),
          lambda a, t: TF.cross_entropy(a, t, reduction=reduction), [x, target], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shapes", CE_SHAPES[:3], ids=str)
def test_cross_entropy_weight_ignore_index_and_label_smoothing(shapes, smoothing, reduction,
                                                               dtype):
    (xshape, tshape), c = shapes, shapes[0][1]
    x, target = uniform(xshape, seed=1), classes(tshape, c, seed=2, ignore=-1)
    weight = uniform((c,), 0.2, 2.0, seed=3)

    def run(lib):
        def fn(a, t, w):
            return lib.cross_entropy(a, t, weight=w, ignore_index=-1, reduction=reduction,
                                     label_smoothing=smoothing)
        return fn

    # PyTorch does not differentiate class-index losses w.r.t. the weight.
    check(run(EF), run(TF), [x, target, weight], dtype)
    # without weight, and with the default ignore_index
    target[target == -1] = -100
    check(lambda a, t: EF.cross_entropy(a, t, reduction=reduction, label_smoothing=smoothing),
          lambda a, t: TF.cross_entropy(a, t, reduction=reduction, label_smoothing=smoothing),
          [x, target], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 2), (5,)], ids=str)
def test_cross_entropy_class_probabilities(shape, reduction, dtype):
    x = uniform(shape, seed=4)
    dim = 0 if len(shape) == 1 else 1
    probs = np.random.default_rng(5).uniform(0, 1, shape)
    probs /= probs.sum(dim, keepdims=True)
    weight = uniform((shape[dim],), 0.2, 2.0, seed=6)
    for smoothing in (0.0, 0.1):
        check(lambda a, p, w: EF.cross_entropy(a, p, w, reduction=reduction,
                                                label_smoothing=smoothing),
              lambda a, p, w: TF.cross_entropy(a, p, w, reduction=reduction,
                                               label_smoothing=smoothing),
              [x, probs, weight], dtype, grad=(0, 1, 2))
        check(lambda a, p: EF.cross_entropy(a, p, reduction=reduction,
                                             label_smoothing=smoothing),
              lambda a, p: TF.cross_entropy(a, p, reduction=reduction,
                                            label_smoothing=smoothing),
              [x, probs], dtype, grad=(0, 1))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
def test_nll_loss(shapes, reduction, dtype):
    (xshape, tshape), c = shapes, shapes[0][0 if len(shapes[0]) == 1 else 1]
    x = uniform(xshape, seed=7)
    ignore = None if not tshape else 2
    target = classes(tshape, c, seed=8, ignore=ignore)
    weight = uniform((c,), 0.2, 2.0, seed=9)
    check(lambda a, t, w: EF.nll_loss(a, t, w, ignore_index=2, reduction=reduction),
          lambda a, t, w: TF.nll_loss(a, t, w, ignore_index=2, reduction=reduction),
          [x, target, weight], dtype)
    check(lambda a, t: EF.nll_loss(a, t, reduction=reduction),
          lambda a, t: TF.nll_loss(a, t, reduction=reduction), [x, target], dtype)


def test_all_targets_ignored_gives_torch_values():
    x, target = uniform((3, 4)), np.full(3, -100)
    for reduction in REDUCTIONS:
        check(lambda a, t: EF.cross_entropy(a, t, reduction=reduction),
              lambda a, t: TF.cross_entropy(a, t, reduction=reduction), [x, target], "float64",
              grad=())


def test_cross_entropy_and_nll_bad_input():
    x = ember.randn(3, 4)
    with pytest.raises(IndexError, match="nll_loss.*target 5 is out of bounds.*4 classes"):
        EF.cross_entropy(x, ember.tensor([0, 1, 5]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        EF.nll_loss(x, ember.tensor([0, -1, 2]))
    with pytest.raises(IndexError, match="target 4 is out of bounds"):
        EF.cross_entropy(ember.randn(2, 4, 3), ember.tensor([[0, 1, 4], [0, 0, 0]]))
    with pytest.raises(ValueError, match="batch_size \\(3\\).*batch_size \\(2\\)"):
        EF.nll_loss(x, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="target size \\[2, 3\\].*\\[2, 5\\]"):
        EF.nll_loss(ember.randn(2, 4, 3), ember.zeros(2, 5, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="Long.*float32"):
        EF.cross_entropy(x, ember.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="Long.*int32"):
        EF.nll_loss(x, ember.tensor([0, 1, 2], dtype=ember.int32))
    with pytest.raises(RuntimeError, match="all 4 classes.*\\[3\\]"):
        EF.cross_entropy(x, ember.tensor([0, 1, 2]), weight=ember.ones(3))
    with pytest.raises(RuntimeError, match="all 4 classes.*\\[3\\]"):
        EF.cross_entropy(x, ember.rand(3, 4), weight=ember.ones(3))
    with pytest.raises(RuntimeError, match="label_smoothing"):
        EF.cross_entropy(x, ember.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="floating point type for target.*int64"):
        EF.cross_entropy(x, ember.zeros(3, 4, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        EF.cross_entropy(x, ember.rand(3, 4), ignore_index=1)
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        EF.cross_entropy(x, ember.tensor([0, 1, 2]), reduction="foo")
    with pytest.raises(ValueError, match="1 or more dimensions"):
        EF.nll_loss(ember.tensor(1.0), ember.tensor(0))


def test_legacy_size_average_and_reduce_flags():
    x, target = uniform((4, 3)), classes((4,), 3)
    for size_average, reduce in [(False, None), (None, False), (True, True)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(lambda a, t: EF.cross_entropy(a, t, size_average=size_average, reduce=reduce),
                  lambda a, t: TF.cross_entropy(a, t, size_average=size_average, reduce=reduce),
                  [x, target], "float64")
            assert ember.nn.MSELoss(reduce=False).reduction == "none"


# --- regression losses ------------------------------------------------------------------------

POINTWISE = [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
             ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
             ("huber_loss", {}), ("huber_loss", {"delta": 2.0})]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", POINTWISE, ids=str)
def test_pointwise_losses(name, kwargs, reduction, dtype):
    x, y = uniform((4, 5), seed=10), uniform((4, 5), seed=11)
    check(lambda a, b: getattr(EF, name)(a, b, reduction=reduction, **kwargs),
          lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kwargs), [x, y], dtype,
          grad=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_pointwise_losses_with_weight(name, reduction):
    x, y, w = uniform((4, 5), seed=12), uniform((4, 5), seed=13), uniform((4, 5), 0.1, 2, 14)
    check(lambda a, b, c: getattr(EF, name)(a, b, reduction=reduction, weight=c),
          lambda a, b, c: getattr(TF, name)(a, b, reduction=reduction, weight=c), [x, y, w],
          "float64", grad=(0, 1, 2))


def test_pointwise_losses_broadcast_with_a_warning_and_reject_bad_input():
    x, y = uniform((3, 1)), uniform((3,))
    with pytest.warns(UserWarning, match="target size"):
        check(EF.mse_loss, TF.mse_loss, [x, y], "float64", grad=(0, 1))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="mse_loss.*\\[3, 2\\]"):
        EF.mse_loss(ember.randn(3, 2), ember.randn(4))
    with pytest.raises(TypeError, match="l1_loss.*int64"):
        EF.l1_loss(ember.arange(3), ember.arange(3))
    with pytest.raises(RuntimeError, match="negative values for beta"):
        EF.smooth_l1_loss(ember.randn(3), ember.randn(3), beta=-1.0)
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        EF.huber_loss(ember.randn(3), ember.randn(3), delta=0.0)
    with pytest.raises(ValueError, match="same size"):
        EF.mse_loss(ember.randn(3), ember.randn(3), weight=ember.ones(2))


# --- binary cross entropy and KL ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction, dtype):
    p, y = uniform((4, 3), 0.05, 0.95, 15), uniform((4, 3), 0.0, 1.0, 16)
    w = uniform((3,), 0.2, 2.0, 17)
    check(lambda a, b: EF.binary_cross_entropy(a, b, reduction=reduction),
          lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction), [p, y], dtype,
          grad=(0,))
    check(lambda a, b, c: EF.binary_cross_entropy(a, b, c, reduction=reduction),
          lambda a, b, c: TF.binary_cross_entropy(a, b, c, reduction=reduction), [p, y, w],
          dtype)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p, y = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    check(lambda a, b: EF.binary_cross_entropy(a, b, reduction="none"),
          lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), [p, y], "float32",
          grad=())
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        EF.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))
    with pytest.raises(ValueError, match="target size"):
        EF.binary_cross_entropy(ember.rand(3, 1), ember.rand(3))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction, dtype):
    x, y = uniform((4, 3), -30, 30, 18), uniform((4, 3), 0.0, 1.0, 19)
    w, pw = uniform((4, 3), 0.2, 2.0, 20), uniform((3,), 0.2, 3.0, 21)
    check(lambda a, b: EF.binary_cross_entropy_with_logits(a, b, reduction=reduction),
          lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction),
          [x, y], dtype, grad=(0, 1))
    check(lambda a, b, c, d: EF.binary_cross_entropy_with_logits(a, b, c, reduction=reduction,
                                                                 pos_weight=d),
          lambda a, b, c, d: TF.binary_cross_entropy_with_logits(a, b, c, reduction=reduction,
                                                                 pos_weight=d),
          [x, y, w, pw], dtype, grad=(0, 1))
    with pytest.raises(ValueError, match="must be the same as input size"):
        EF.binary_cross_entropy_with_logits(ember.rand(3, 1), ember.rand(3))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(log_target, reduction, dtype):
    x = np.log(uniform((4, 5), 0.05, 1.0, 22))
    y = uniform((4, 5), 0.05, 1.0, 23)
    y[0, :2] = 0.0  # zero probabilities contribute zero
    if log_target:
        y = np.log(uniform((4, 5), 0.05, 1.0, 24))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda a, b: EF.kl_div(a, b, reduction=reduction, log_target=log_target),
              lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [x, y],
              dtype, grad=(0,) if not log_target else (0, 1))
    with pytest.raises(ValueError, match="batch is not a valid value"):
        EF.kl_div(ember.randn(3), ember.rand(3), reduction="batch")


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="batchmean"):
        EF.kl_div(ember.randn(3), ember.rand(3))


# --- modules ---------------------------------------------------------------------------------

def test_loss_modules_match_torch_and_repr():
    rng = np.random.default_rng(25)
    x, y = uniform((6, 4), seed=26), uniform((6, 4), seed=27)
    p = uniform((6, 4), 0.05, 0.95, 28)
    t = classes((6,), 4, seed=29, ignore=0)
    w = uniform((4,), 0.2, 2.0, 30)
    cases = [
        ("MSELoss", {}, [x, y]), ("MSELoss", {"reduction": "sum"}, [x, y]),
        ("L1Loss", {}, [x, y]), ("SmoothL1Loss", {"beta": 0.5}, [x, y]),
        ("HuberLoss", {"delta": 0.7, "reduction": "none"}, [x, y]),
        ("KLDivLoss", {"reduction": "batchmean"}, [np.log(p), p[::-1].copy()]),
        ("KLDivLoss", {"log_target": True, "reduction": "sum"}, [np.log(p), np.log(p.T.T)]),
        ("BCELoss", {}, [p, rng.uniform(0, 1, (6, 4))]),
        ("BCELoss", {"weight": w}, [p, rng.uniform(0, 1, (6, 4))]),
        ("BCEWithLogitsLoss", {"weight": w, "pos_weight": w[::-1].copy()}, [x, p]),
        ("NLLLoss", {"weight": w, "ignore_index": 0}, [x, t]),
        ("CrossEntropyLoss", {}, [x, t]),
        ("CrossEntropyLoss", {"weight": w, "ignore_index": 0, "label_smoothing": 0.1,
                              "reduction": "sum"}, [x, t]),
    ]
    for name, kwargs, inputs in cases:
        ekw = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        emod, tmod = getattr(ember.nn, name)(**ekw), getattr(torch.nn, name)(**tkw)
        assert repr(emod) == repr(tmod) == f"{name}()"
        assert emod.reduction == tmod.reduction
        if "weight" in kwargs:
            assert [n for n, _ in emod.named_buffers()] == [n for n, _ in tmod.named_buffers()]
        check(emod, tmod, inputs, "float64", grad=(0,))


def test_loss_module_weight_is_a_buffer_moved_with_the_module():
    m = ember.nn.CrossEntropyLoss(weight=ember.ones(3))
    assert "weight" in dict(m.named_buffers())
    m.double()
    assert m.weight.dtype is ember.float64
    e, t = to_pair(uniform((2, 3)), "float64", True)
    assert float(m(e, ember.tensor([0, 2]))) == pytest.approx(
        float(torch.nn.CrossEntropyLoss()(t.detach(), torch.tensor([0, 2]))))


# --- finite differences -----------------------------------------------------------------------

def _leaf(array):
    return ember.tensor(array, dtype=ember.float64, requires_grad=True)


GRADCHECK_CASES = {
    "cross_entropy_smoothing": (
        lambda a, w: EF.cross_entropy(a, ember.tensor([0, 2, -100, 1]), w, label_smoothing=0.2),
        [uniform((4, 3), seed=31), uniform((3,), 0.5, 2.0, 32)]),
    "cross_entropy_probs": (
        lambda a, p: EF.cross_entropy(a, EF.softmax(p, 1), reduction="sum"),
        [uniform((2, 3, 2), seed=33), uniform((2, 3, 2), seed=34)]),
    "nll_kdim": (lambda a: EF.nll_loss(a, ember.tensor([[0, 1], [2, 2]]), reduction="none"),
                 [uniform((2, 3, 2), seed=35)]),
    "bce": (lambda p, y: EF.binary_cross_entropy(p, y),
            [uniform((3, 2), 0.1, 0.9, 36), uniform((3, 2), 0, 1, 37)]),
    "bce_logits": (lambda a, y, pw: EF.binary_cross_entropy_with_logits(a, y, pos_weight=pw),
                   [uniform((3, 2), seed=38), uniform((3, 2), 0, 1, 39),
                    uniform((2,), 0.5, 2, 40)]),
    "kl_div": (lambda a, b: EF.kl_div(a, b, reduction="batchmean"),
               [uniform((3, 2), -2, -0.1, 41), uniform((3, 2), 0.1, 1, 42)]),
    "smooth_l1": (lambda a, b: EF.smooth_l1_loss(a, b, beta=0.7),
                  [uniform((3, 4), seed=43), uniform((3, 4), seed=44)]),
    "huber": (lambda a, b: EF.huber_loss(a, b, delta=0.7),
              [uniform((3, 4), seed=45), uniform((3, 4), seed=46)]),
    "gelu": (EF.gelu, [uniform((5,), seed=47)]),
    "gelu_tanh": (lambda a: EF.gelu(a, approximate="tanh"), [uniform((5,), seed=48)]),
    "softplus": (lambda a: EF.softplus(a, beta=2.0, threshold=3.0), [uniform((6,), seed=49)]),
    "elu": (EF.elu, [uniform((6,), seed=50)]),
    "silu": (EF.silu, [uniform((6,), seed=51)]),
    "normalize": (lambda a: EF.normalize(a, 3.0, 1), [uniform((3, 4), seed=52)]),
    "log_softmax": (lambda a: EF.log_softmax(a, 0), [uniform((4, 3), seed=53)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradients_match_finite_differences(name):
    fn, arrays = GRADCHECK_CASES[name]
    assert ember.autograd.gradcheck(fn, [_leaf(a) for a in arrays])
