"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with torch's gate layout.

Every layer is unrolled over time with ordinary Tensor operations, so it differentiates, traces
and compiles like any other code. Parameter names, shapes, gate order and initialisation are
torch's, so a torch state_dict loads unchanged.
"""

from __future__ import annotations

import math
import warnings

from ember.frontend.ops.creation import empty, zeros
from ember.frontend.ops.shape import cat, stack
from ember.frontend.tensor import Tensor
from ember.nn import init
from ember.nn.functional.dropout import dropout as _dropout
from ember.nn.functional.linear import linear
from ember.nn.modules.layer_parameters import register_optional_parameter
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

# --- one time step ---------------------------------------------------------------------------
# Each step takes the input projection `gi` = x W_ih^T + b_ih (computed for the whole sequence at
# once, outside the time loop), the state tuple, and the recurrent weights; it returns the new
# state tuple, whose first element is the layer's output at that step.


def _tanh_step(gi, state, w_hh, b_hh, w_hr=None):
    return ((gi + linear(state[0], w_hh, b_hh)).tanh(),)


def _relu_step(gi, state, w_hh, b_hh, w_hr=None):
    return ((gi + linear(state[0], w_hh, b_hh)).relu(),)


def _lstm_step(gi, state, w_hh, b_hh, w_hr=None):
    h, c = state
    i, f, g, o = (gi + linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    return (h if w_hr is None else linear(h, w_hr)), c


def _gru_step(gi, state, w_hh, b_hh, w_hr=None):
    h = state[0]
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = linear(h, w_hh, b_hh).chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return ((1 - z) * n + z * h,)


_STEPS = {"RNN_TANH": _tanh_step, "RNN_RELU": _relu_step, "LSTM": _lstm_step, "GRU": _gru_step}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_sizes(name: str, input_size, hidden_size) -> None:
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"ember.nn.{name}: {arg} should be of type int, got: "
                            f"{type(value).__name__}")
    if hidden_size <= 0:
        raise ValueError(f"ember.nn.{name}: hidden_size must be greater than zero, "
                         f"got {hidden_size}")


def _uniform_reset(module: Module, hidden_size: int) -> None:
    """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


class RNNBase(Module):
    """Multi-layer, optionally bidirectional recurrence of one of torch's cell kinds (`mode`)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"ember.nn.{name}: dropout should be a number in range [0, 1] "
                             f"representing the probability of an element being zeroed, "
                             f"got {dropout}")
        if num_layers <= 0:
            raise ValueError(f"ember.nn.{name}: num_layers must be greater than zero, "
                             f"got {num_layers}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if proj_size < 0:
            raise ValueError(f"ember.nn.{name}: proj_size should be a positive integer or zero "
                             f"to disable projections, got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(f"ember.nn.{name}: proj_size has to be smaller than hidden_size, "
                             f"got proj_size={proj_size}, hidden_size={hidden_size}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        out_size = proj_size if proj_size > 0 else hidden_size
        names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input),
                          "weight_hh": (gate_size, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size > 0:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    self.register_parameter(kind + suffix,
                                            Parameter(empty(shape, dtype=dtype, device=device)))
                    names.append(kind + suffix)
        self._flat_weights_names = names
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_reset(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """Kept for torch compatibility: weights are never packed into one buffer here."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each (layer, direction), in registration order."""
        per_layer = len(self._flat_weights_names) // (self.num_layers * self._directions)
        params = [getattr(self, n) for n in self._flat_weights_names]
        return [params[i:i + per_layer] for i in range(0, len(params), per_layer)]

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _weights(self, layer: int, direction: int):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction, None where absent."""
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return tuple(self._parameters.get(kind + suffix)
                     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def _initial_state(self, hx, batched: bool, batch: int, x: Tensor) -> tuple[Tensor, ...]:
        """The initial state tensors, each (layers * directions, batch, size), checked."""
        name = type(self).__name__
        out_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        rows = self.num_layers * self._directions
        sizes = [out_size] + ([self.hidden_size] if self.mode == "LSTM" else [])
        if hx is None:
            return tuple(zeros(rows, batch, size, dtype=x.dtype, device=x.device) for size in sizes)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"ember.nn.LSTM: hx must be a tuple (h_0, c_0) of tensors, got "
                                f"{type(hx).__name__}")
            states = tuple(hx)
        else:
            if not isinstance(hx, Tensor):
                raise TypeError(f"ember.nn.{name}: hx must be a Tensor, got {type(hx).__name__}")
            states = (hx,)
        checked = []
        for i, (h, size) in enumerate(zip(states, sizes)):
            label = f"hx[{i}]" if self.mode == "LSTM" else "hx"
            want_dim = 3 if batched else 2
            if h.dim() != want_dim:
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"ember.nn.{name}: for {kind} input, {label} should also be "
                                   f"{want_dim}-D but got {h.dim()}-D tensor of shape "
                                   f"{list(h.shape)}")
            want = [rows, batch, size] if batched else [rows, size]
            if list(h.shape) != want:
                raise RuntimeError(f"ember.nn.{name}: expected {label} of size {want}, got "
                                   f"{list(h.shape)}")
            h = h if batched else h.unsqueeze(1)
            if h.dtype != x.dtype:
                raise RuntimeError(f"ember.nn.{name}: input and {label} must have the same "
                                   f"dtype, got {x.dtype.name} and {h.dtype.name}")
            checked.append(h)
        return tuple(checked)

    def forward(self, input: Tensor, hx=None):
        """(output, h_n) for RNN and GRU, (output, (h_n, c_n)) for LSTM, as torch."""
        name = type(self).__name__
        if input.dim() not in (2, 3):
            raise ValueError(f"ember.nn.{name}: expected input to be 2-D or 3-D, got "
                             f"{input.dim()}-D tensor of shape {list(input.shape)}")
        batched = input.dim() == 3
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"ember.nn.{name}: input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {input.shape[-1]} (input shape "
                               f"{list(input.shape)})")
        weight = self._parameters[self._flat_weights_names[0]]
        if input.dtype != weight.dtype:
            raise RuntimeError(f"ember.nn.{name}: input dtype {input.dtype.name} does not match "
                               f"the weights' dtype {weight.dtype.name}")
        # Work time-major, (seq, batch, features); an unbatched input is a batch of one.
        if not batched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        seq_len, batch = x.shape[0], x.shape[1]
        if seq_len == 0:
            raise RuntimeError(f"ember.nn.{name}: expected sequence length to be larger than 0, "
                               f"got input shape {list(input.shape)}")
        initial = self._initial_state(hx, batched, batch, x)
        step = _STEPS[self.mode]
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self._directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                row = layer * self._directions + direction
                state = tuple(s[row] for s in initial)
                projected = linear(x, w_ih, b_ih).unbind(0)
                steps = range(seq_len) if direction == 0 else range(seq_len - 1, -1, -1)
                out = [None] * seq_len
                for t in steps:
                    state = step(projected[t], state, w_hh, b_hh, w_hr)
                    out[t] = state[0]
                outputs.append(stack(out, 0))
                finals.append(state)
            x = outputs[0] if len(outputs) == 1 else cat(outputs, -1)
            if layer < self.num_layers - 1 and self.dropout > 0 and self.training:
                x = _dropout(x, self.dropout, True)
        if not batched:
            output = x.squeeze(1)
        else:
            output = x.transpose(0, 1) if self.batch_first else x
        final = tuple(stack([f[i] for f in finals], 0) for i in range(len(initial)))
        if not batched:
            final = tuple(f.squeeze(1) for f in final)
        return output, (final if self.mode == "LSTM" else final[0])

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"ember.nn.RNN: unknown nonlinearity '{nonlinearity}'. Select from "
                             f"'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o (in that order), optional output projection."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# --- cells ------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """One time step of a recurrence: weight_ih, weight_hh, bias_ih, bias_hh as torch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(empty(gate_size, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(gate_size, hidden_size, dtype=dtype, device=device))
        register_optional_parameter(self, "bias_ih", bias, gate_size, dtype, device)
        register_optional_parameter(self, "bias_hh", bias, gate_size, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_reset(self, self.hidden_size)

    def _run(self, mode: str, input: Tensor, states: tuple) -> tuple[Tensor, ...]:
        """Check the shapes, then one step of `mode` on batched or unbatched operands."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"ember.nn.{name}: expected input to be 1-D or 2-D, got "
                             f"{input.dim()}-D tensor of shape {list(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"ember.nn.{name}: input has inconsistent input_size: got "
                               f"{input.shape[-1]}, expected {self.input_size} (input shape "
                               f"{list(input.shape)})")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        batch = x.shape[0]
        if all(s is None for s in states):
            states = tuple(zeros(batch, self.hidden_size, dtype=x.dtype, device=x.device) for _ in states)
        checked = []
        for i, h in enumerate(states):
            if h.dim() != input.dim():
                raise ValueError(f"ember.nn.{name}: expected hidden to be {input.dim()}-D like "
                                 f"the input, got hx[{i}] of shape {list(h.shape)} for input of "
                                 f"shape {list(input.shape)}")
            h = h if batched else h.unsqueeze(0)
            if tuple(h.shape) != (batch, self.hidden_size):
                raise RuntimeError(f"ember.nn.{name}: hidden{i} of shape {list(h.shape)} does "
                                   f"not match input batch size {batch} and hidden_size "
                                   f"{self.hidden_size}")
            checked.append(h)
        gi = linear(x, self.weight_ih, self.bias_ih)
        out = _STEPS[mode](gi, tuple(checked), self.weight_hh, self.bias_hh)
        return out if batched else tuple(o.squeeze(0) for o in out)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"ember.nn.RNNCell: unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """The next hidden state."""
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        return self._run(mode, input, (hx,))[0]

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        """(h', c') from the input and (h, c) (zeros when hx is None)."""
        return self._run("LSTM", input, (None, None) if hx is None else tuple(hx))


class GRUCell(RNNCellBase):
    """One GRU step: returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """The next hidden state."""
        return self._run("GRU", input, (hx,))[0]
