"""Moving tensors between devices, differentiably: `Tensor.to(device)`, `.cuda()`, `.cpu()`."""

from __future__ import annotations

from ember.frontend import cuda_eager, tracing
from ember.frontend.autograd.node import Node
from ember.frontend.device import device as Device
from ember.frontend.grad_mode import is_grad_enabled
from ember.frontend.tensor import Tensor


class ToCopyBackward(Node):
    """The tape node of a transfer: the gradient goes back to the source device."""

    __slots__ = ()

    def __init__(self, source: Tensor, output: Tensor) -> None:
        super().__init__("to_copy", {"device": source.device}, [source], output)
        self._inputs = []  # the rule needs no saved values: keep no copy alive

    def apply_vjp(self, g: Tensor) -> tuple:
        return (to_device(g, self.attrs["device"]),)


def resolve(spec: "Device | str | int") -> Device:
    """A device spec made concrete: "cuda" means the current CUDA device."""
    d = Device(spec)
    if d.type == "cuda" and d.index is None:
        from ember.frontend.cuda import current_device

        d = Device("cuda", current_device())
    return d


def to_device(x: Tensor, where: "Device | str | int") -> Tensor:
    """x on device `where`: x itself if it is there already, else a copy on the tape."""
    where = resolve(where)
    if x.device == where:
        return x
    out = Tensor._wrap(cuda_eager.move(x._array, where))
    trace = tracing.ACTIVE
    if trace is not None and not trace.transfer(x, out):
        trace.abandon(f"a transfer of a tensor from {x.device} to {where} cannot be compiled")
    if is_grad_enabled() and x.requires_grad:
        out._grad_fn = ToCopyBackward(x, out)
        out._requires_grad = True
    return out
