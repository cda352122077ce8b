"""Hand-written NumPy training steps (forward, backward, SGD with momentum) for the MLP and the
CNN of examples/cnn_digits.py: the floor that a NumPy-backed framework could reach."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _uniform(rng, fan_in: int, *shape: int) -> np.ndarray:
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross entropy and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    grad = np.exp(log_p)
    grad[rows, y] -= 1
    return float(-log_p[rows, y].mean()), grad / len(y)


def _conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid, stride-1 cross-correlation of x (N, C, H, W) with w (O, C, k, k), by im2col."""
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))
    return np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def _conv_grads(x, w, grad, need_input: bool):
    """Gradients of _conv for weight and (if asked) input: the input's is a full convolution
    of the padded output gradient with the flipped kernel."""
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))
    gw = np.tensordot(grad, windows, axes=([0, 2, 3], [0, 2, 3]))
    if not need_input:
        return gw, None
    k = w.shape[2] - 1
    padded = np.pad(grad, ((0, 0), (0, 0), (k, k), (k, k)))
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    return gw, _conv(padded, flipped)


class SGDModel:
    """Parameters with SGD momentum buffers, like torch.optim.SGD(lr, momentum)."""

    def __init__(self, params: list[np.ndarray], lr: float, momentum: float) -> None:
        self.params, self.lr, self.momentum = params, lr, momentum
        self.buffers = [np.zeros_like(p) for p in params]

    def update(self, grads: list[np.ndarray]) -> None:
        for p, buf, g in zip(self.params, self.buffers, grads):
            buf *= self.momentum
            buf += g
            p -= self.lr * buf


class MLP(SGDModel):
    """Linear(784, 128), ReLU, Linear(128, 10)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        super().__init__([_uniform(rng, 784, 784, 128), _uniform(rng, 784, 128),
                          _uniform(rng, 128, 128, 10), _uniform(rng, 128, 10)], lr, momentum)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        w1, b1, w2, b2 = self.params
        h = x @ w1 + b1
        a = np.maximum(h, 0)
        loss, g = _cross_entropy(a @ w2 + b2, y)
        ga = g @ w2.T
        ga[h <= 0] = 0
        self.update([x.T @ ga, ga.sum(0), a.T @ g, g.sum(0)])
        return loss


class CNN(SGDModel):
    """conv(1->32, 3), ReLU, conv(32->64, 3), ReLU, max-pool 2, dropout 0.25, Linear(9216, 128),
    ReLU, dropout 0.5, Linear(128, 10), log-softmax with NLL loss."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        super().__init__([_uniform(rng, 9, 32, 1, 3, 3), _uniform(rng, 9, 32),
                          _uniform(rng, 288, 64, 32, 3, 3), _uniform(rng, 288, 64),
                          _uniform(rng, 9216, 9216, 128), _uniform(rng, 9216, 128),
                          _uniform(rng, 128, 128, 10), _uniform(rng, 128, 10)], lr, momentum)

    def _dropout_mask(self, shape, p: float) -> np.ndarray:
        return (self.rng.random(shape, dtype=np.float32) >= p) * np.float32(1 / (1 - p))

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b = self.params
        a1 = np.maximum(_conv(x, c1w) + c1b[:, None, None], 0)
        a2 = np.maximum(_conv(a1, c2w) + c2b[:, None, None], 0)
        n, c, h, w = a2.shape
        blocks = a2.reshape(n, c, h // 2, 2, w // 2, 2)
        pooled = blocks.max(axis=(3, 5))
        d1 = self._dropout_mask(pooled.shape, 0.25)
        flat = (pooled * d1).reshape(n, -1)
        h3 = flat @ f1w + f1b
        d2 = self._dropout_mask(h3.shape, 0.5)
        a3 = np.maximum(h3, 0) * d2
        loss, g = _cross_entropy(a3 @ f2w + f2b, y)

        g3 = (g @ f2w.T) * d2 * (h3 > 0)
        g_pooled = (g3 @ f1w.T).reshape(pooled.shape) * d1
        is_max = blocks == pooled[:, :, :, None, :, None]
        g2 = (is_max * g_pooled[:, :, :, None, :, None]).reshape(a2.shape) * (a2 > 0)
        gc2w, g1 = _conv_grads(a1, c2w, g2, need_input=True)
        g1 *= a1 > 0
        gc1w, _ = _conv_grads(x, c1w, g1, need_input=False)
        self.update([gc1w, g1.sum((0, 2, 3)), gc2w, g2.sum((0, 2, 3)), flat.T @ g3, g3.sum(0),
                     a3.T @ g, g.sum(0)])
        return loss
