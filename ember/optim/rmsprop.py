"""RMSprop: gradients scaled by a running root mean square, optionally centered."""

from __future__ import annotations

from ember.frontend.ops.creation import zeros_like
from ember.optim.optimizer import (Optimizer, check_differentiable, check_non_negative,
                                   descent_grad, zero_step)


class RMSprop(Optimizer):
    """torch.optim.RMSprop: v = alpha * v + (1 - alpha) * g^2, avg = sqrt(v - mean(g)^2 if
    centered else v) + eps; p -= lr * g / avg (through a momentum buffer when momentum > 0)."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_non_negative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                           alpha=alpha)
        check_differentiable(differentiable)
        # capturable and foreach select PyTorch kernels; kept so state dicts match torch's.
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, p, group) -> None:
        lr, alpha, momentum = group["lr"], group["alpha"], group["momentum"]
        state = self.state[p]
        if not state:
            state["step"] = zero_step()
            state["square_avg"] = zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like(p)
        grad = descent_grad(p, group)
        state["step"].add_(1)
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg.add_(group["eps"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).addcdiv_(grad, avg)
            p.add_(buf, alpha=-lr)
        else:
            p.addcdiv_(grad, avg, value=-lr)
