"""Graphs traced from real models and functions, shared by the pass tests: softmax, layer norm
and cross-entropy forwards, MLP and CNN training steps, and a transformer forward."""

import ember
import ember.nn.functional as F
import ember.optim as optim
from ember.ir import parse
from model_zoo import CLASSES, batch, build, train_step


def _forward(fn, *args):
    """The forward graph of `fn(*args)`, traced without autograd and parsed back."""
    with ember.no_grad():
        return parse(ember.jit(fn).lower(*args).as_text("graph"))


def _train_graph(name, make_optimizer):
    """The graph of one compiled training step of model `name` (with optimizer state)."""
    model = build(name)
    optimizer = make_optimizer(model.parameters())
    step = ember.jit(lambda x, y: train_step(model, optimizer, x, y))
    x, y = batch(name, 0)
    step(x, y)  # the second specialisation holds the optimizer state, as a real run does
    return parse(step.lower(x, y).as_text("graph"))  # one graph: backward is traced inline


def _softmax():
    return _forward(lambda x: F.softmax(x, dim=-1), ember.randn(4, 10))


def _layer_norm():
    w, b = ember.randn(10), ember.randn(10)
    return _forward(lambda x: F.layer_norm(x, (10,), w, b), ember.randn(4, 10))


def _cross_entropy():
    return _forward(F.cross_entropy, ember.randn(4, CLASSES), ember.randint(0, CLASSES, (4,)))


def _transformer():
    model = build("transformer").eval()
    return _forward(model, batch("transformer", 0)[0])


GRAPHS = {
    "softmax": _softmax,
    "layer_norm": _layer_norm,
    "cross_entropy": _cross_entropy,
    "mlp_step": lambda: _train_graph("mlp", lambda p: optim.SGD(p, lr=0.05, momentum=0.9)),
    "cnn_step": lambda: _train_graph("dropout_cnn", lambda p: optim.Adam(p, lr=0.01)),
    "transformer": _transformer,
}
MODELS = ("mlp_step", "cnn_step", "transformer")
