"""Adagrad: per-element learning rates from the running sum of squared gradients."""

from __future__ import annotations

from ember.frontend.ops.creation import full_like
from ember.optim.optimizer import (Optimizer, check_differentiable, check_non_negative,
                                   descent_grad, zero_step)


class Adagrad(Optimizer):
    """torch.optim.Adagrad: s += g^2; p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        check_differentiable(differentiable)
        # foreach and fused select PyTorch kernels; kept so state dicts match torch's.
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "fused": fused}
        super().__init__(params, defaults)
        # As in PyTorch, state exists from construction (for every parameter of every group).
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p) -> None:
        state = self.state[p]
        state["step"] = zero_step()
        state["sum"] = full_like(p, self.defaults["initial_accumulator_value"])

    def _update(self, p, group) -> None:
        state = self.state[p]
        if not state:
            # A parameter added later with add_param_group.
            self._init_state(p)
        grad = descent_grad(p, group)
        step = state["step"]
        step.add_(1)
        # A tensor, so that the step count is never read on the host.
        clr = group["lr"] / (1 + (step.double() - 1) * group["lr_decay"])
        state["sum"].addcmul_(grad, grad, value=1)
        std = state["sum"].sqrt().add_(group["eps"])
        p.addcdiv_(grad, std, value=-clr)
