"""`ember.autograd`: gradients of tensors, as in torch.autograd."""

from ember.frontend.autograd.functions import GradcheckError, backward, grad, gradcheck
from ember.frontend.grad_mode import enable_grad, no_grad, set_grad_enabled

__all__ = ["GradcheckError", "backward", "enable_grad", "grad", "gradcheck", "no_grad",
           "set_grad_enabled"]
