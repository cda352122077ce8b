"""Adadelta: updates scaled by the ratio of running RMS of updates and of gradients."""

from __future__ import annotations

from ember.frontend.ops.creation import zeros_like
from ember.optim.optimizer import (Optimizer, check_differentiable, check_non_negative,
                                   descent_grad, zero_step)


class Adadelta(Optimizer):
    """torch.optim.Adadelta: v = rho * v + (1 - rho) * g^2, d = sqrt(u + eps) / sqrt(v + eps) * g,
    u = rho * u + (1 - rho) * d^2, p -= lr * d."""

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_non_negative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_non_negative(eps=eps, weight_decay=weight_decay)
        check_differentiable(differentiable)
        # capturable and foreach select PyTorch kernels; kept so state dicts match torch's.
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, p, group) -> None:
        rho, eps = group["rho"], group["eps"]
        state = self.state[p]
        if not state:
            state["step"] = zero_step()
            state["square_avg"] = zeros_like(p)
            state["acc_delta"] = zeros_like(p)
        grad = descent_grad(p, group)
        state["step"].add_(1)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-group["lr"])
