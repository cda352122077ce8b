"""Whether autograd records operations: no_grad, enable_grad, set_grad_enabled."""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    # A class default rather than getattr(..., True): every compiled call reads the mode, and
    # a missing attribute costs an exception each time.
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are recorded for backward."""
    return _state.enabled


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class set_grad_enabled:
    """Context manager and decorator that turns gradient recording on or off.

    Like PyTorch's, constructing it already sets the mode, so `set_grad_enabled(False)` also
    works as a plain function call.
    """

    def __init__(self, mode: bool) -> None:
        self.prev = is_grad_enabled()
        self.mode = bool(mode)
        _set(self.mode)

    def __enter__(self) -> None:
        _set(self.mode)

    def __exit__(self, *exc) -> None:
        _set(self.prev)

    def __call__(self, fn):
        _set(self.prev)
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class _GradModeContext:
    mode: bool

    def __new__(cls, orig_func=None):
        # Like PyTorch's, usable as a bare decorator: `@no_grad` as well as `@no_grad()`.
        self = super().__new__(cls)
        return self if orig_func is None else self(orig_func)

    def __enter__(self) -> None:
        self.prev = is_grad_enabled()
        _set(self.mode)

    def __exit__(self, *exc) -> None:
        _set(self.prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator under which no operation is recorded for backward."""

    mode = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns recording back on inside no_grad."""

    mode = True
