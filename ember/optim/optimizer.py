"""The Optimizer base class: parameter groups, per-parameter state and torch-format state dicts."""

from __future__ import annotations

import functools
import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain
from typing import Any, Callable, Iterable

from ember.frontend.autograd.zero_grad import zero_grads
from ember.frontend.grad_mode import enable_grad, no_grad
from ember.frontend.ops.creation import get_default_dtype, tensor
from ember.frontend.tensor import Tensor
from ember.ir import dtypes


class Optimizer:
    """Base class of every optimizer, with torch.optim.Optimizer's interface and state format.

    Subclasses pass their hyperparameter defaults and implement `step`; each parameter group is a
    dict holding 'params' plus every hyperparameter, and `state` maps a parameter to its dict of
    state tensors.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + type(params).__name__)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs) -> None:
        # Record that step ran (LR schedulers warn when stepped first), also for overrides.
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _record_step_called(cls.__dict__["step"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own hyperparameters (missing ones from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        # (name, tensor) pairs, as named_parameters() yields them, also record the names.
        names = [p[0] for p in params if isinstance(p, tuple)]
        param_group["params"] = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + type(p).__name__)
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)

        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                raise ValueError("all optimizer param groups should be with/without names.")
            if not set(ids).isdisjoint(id(p) for p in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every optimized parameter: to None, or zeroed in place."""
        zero_grads(chain.from_iterable(g["params"] for g in self.param_groups), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient once; returns the loss from `closure`.

        `closure` re-evaluates the model (with grad enabled) before the update. Subclasses
        implement `_update(param, group)`, or override `step` itself.
        """
        self._opt_called = True
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, group)
        return loss

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        """Apply this optimizer's rule to one parameter (runs under no_grad)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither step nor _update")

    def _jit_state(self) -> dict[str, Any]:
        """What a compiled function that reaches this optimizer specialises on (ember.jit):
        hyperparameters (Python numbers in the graph), which state exists, and identities."""
        from ember.frontend.jit import static_key, tensor_identity

        # Called on every compiled call: one pass over the parameters.
        name = f"optimizer {type(self).__name__} at {id(self):#x}"
        grads, parameters, state = [], [], []
        for group in self.param_groups:
            for p in group["params"]:
                grads.append(p._grad is not None)
                parameters.append(tensor_identity(p))
                slots = self.state.get(p)
                state.append(tuple((k, tensor_identity(v) if isinstance(v, Tensor) else None)
                                   for k, v in slots.items()) if slots else ())
        return {
            name + " hyperparameters": tuple(
                tuple((k, static_key(v)) for k, v in g.items() if k != "params")
                for g in self.param_groups),
            name + " state": tuple(state),
            name + " grads present": tuple(grads),
            name + " parameters": tuple(parameters),
        }

    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: state}, 'param_groups': [group with 'params' as indices]}.

        Parameters are numbered in group order; state tensors are returned by reference, as in
        PyTorch, so a saved copy must be cloned (or serialised) before stepping on.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict` for the same parameter layout.

        State tensors are cast to their parameter's floating dtype (the step count keeps its own).
        """
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        by_index = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                            chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in by_index:
                param = by_index[key]
                state[param] = _cast_state(param, value)
            else:
                state[key] = value
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _record_step_called(step):
    """`step` that first marks the optimizer as stepped."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)

    return wrapper


def _cast_state(param: Tensor, value: Any, key: str | None = None) -> Any:
    """A saved state value made to fit `param`: tensors move to its device and floating ones
    take its dtype, except 'step', which stays a host scalar as in PyTorch."""
    if isinstance(value, Tensor):
        if key == "step":
            return value
        return value.to(device=param.device,
                        dtype=param.dtype if param.is_floating_point() else None)
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v) for v in value)
    return value


def zero_step() -> Tensor:
    """A new step counter: a 0-d float tensor, like PyTorch's (float64 if that is the default)."""
    dtype = dtypes.float64 if get_default_dtype() is dtypes.float64 else dtypes.float32
    return tensor(0.0, dtype=dtype)


def check_differentiable(differentiable: bool) -> None:
    """Reject differentiable=True: Ember's updates are always taken outside the autograd graph."""
    if differentiable:
        raise NotImplementedError("ember.optim: differentiable=True is not supported (optimizer "
                                  "steps are not recorded by autograd)")


_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def check_non_negative(**hyperparameters: float) -> None:
    """Raise PyTorch's ValueError for the first of `hyperparameters` (in order) below zero."""
    for name, value in hyperparameters.items():
        if value < 0.0:
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {value}")


def descent_grad(p: Tensor, group: dict[str, Any], l2: bool = True) -> Tensor:
    """p's gradient to descend: negated when the group maximizes, plus weight_decay * p when
    `l2` (decoupled weight decay is the optimizer's own)."""
    grad = -p.grad if group["maximize"] else p.grad
    if l2 and group["weight_decay"] != 0:
        grad = grad.add(p, alpha=group["weight_decay"])
    return grad
