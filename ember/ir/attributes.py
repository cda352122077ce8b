"""MLIR's attribute and builtin-type syntax for Ember's Python attribute values, both ways.

Every value round-trips exactly: parsing what `print_attribute` wrote gives an equal value of
the same Python type (arrays: same dtype, shape and bits).

    Python value              MLIR text
    bool                      true, false
    int                       5 : i64
    float                     0.5 : f64, 1.0e-300 : f64, -0.0 : f64; inf and nan by their bits,
                              0x7FF0000000000000 : f64
    str                       "float32" (escapes \\" \\\\ \\n \\t \\XX)
    tuple/list                array<i64: 1, 2>, array<i64> (empty), array<i1: true>,
                              array<f64: 0.5>; parsed back as a tuple
    numpy.ndarray             dense<[[1.0, 2.0]]> : tensor<1x2xf32>, dense<0> : tensor<3xi64>
                              (splat), dense<> : tensor<0xf32> (empty), dense<"0x0040..."> (raw
                              little-endian bytes: f16/bf16, non-finite floats, > 100 elements)
    FunctionType              (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
    ScalarAttr                3 : index, 0.5 : f32, 7 : i32 (numbers of other types than i64, f64)
    I32Array                  array<i32: 0, 0> (as memref.alloc's operandSegmentSizes)
    UNIT (a UnitAttr)         unit (a flag such as `gpu.kernel`: present or absent)
    SymbolRef                 @kernels::@k0 (a symbol, nested through symbol tables)
    DialectAttr               #gpu<dim x>, #gpu<shuffle_mode xor> (a dialect's own syntax,
                              kept as its text)

Grammar (the parser's side):

    attribute      ::= `true` | `false` | number (`:` (element-type | `index`))? | string
                     | `array<` element-type (`:` element (`,` element)*)? `>`
                     | `dense<` (`` | string | element | nested) `>` `:` tensor-type
                     | function-type | `unit` | symbol-ref | dialect-attr
    symbol-ref     ::= `@` symbol-name (`::` `@` symbol-name)*
    dialect-attr   ::= `#` name `<` balanced text `>`
    nested         ::= `[` ((nested | element) (`,` (nested | element))*)? `]`
    element        ::= `true` | `false` | number
    number         ::= `-`? (`0x` hex-digit+ | digit+ (`.` digit* ([eE] [-+]? digit+)?)?)
    attr-dict      ::= `{` (name `=` attribute (`,` name `=` attribute)*)? `}`
    type           ::= tensor-type | memref-type | element-type | `index`
    tensor-type    ::= `tensor<` (digit+ `x`)* element-type `>`
    memref-type    ::= `memref<` (digit+ `x`)* element-type (`,` digit+)? `>`
    function-type  ::= `(` (type (`,` type)*)? `)` `->` (type | `(` (type (`,` type)*)? `)`)
    element-type   ::= `i1` | `i32` | `i64` | `f16` | `bf16` | `f32` | `f64`

A number without a type is an i64 if it is an integer literal and an f64 otherwise (MLIR's
defaults); one of another type (`index`, `i32`, `f32`, ...) is a ScalarAttr. A hex number with
a float type gives the float with those bits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ember.ir import dtypes
from ember.ir.core import FunctionType
from ember.ir.syntax import Cursor
from ember.ir.types import INDEX, MemRefType, ScalarType, TensorType

_NAME = re.compile(r"[A-Za-z_][\w$.]*")
_NUMBER = re.compile(r"-?(?:0x[0-9A-Fa-f]+|\d+(?:\.\d*(?:[eE][-+]?\d+)?)?)(?![\w.])")
_ELEMENT = re.compile(_NUMBER.pattern + r"|(?:true|false)(?![\w$.])")
_ELEMENT_TYPE = re.compile(r"(?:i1|i32|i64|f16|bf16|f32|f64)(?![\w$.])")
_TENSOR = re.compile(r"(tensor|memref)<((?:\d+x)*)([A-Za-z]\w*)(?:,\s*(\d+))?>")
_DIALECT_ATTR = re.compile(r"#[A-Za-z_][\w$.]*<")
_SCALAR_TYPE = re.compile(r"(?:index|i1|i32|i64|f16|bf16|f32|f64)(?![\w$.])")
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_ESCAPE = re.compile(r'\\(?:([0-9A-Fa-f]{2})|(.))')
_HEX_THRESHOLD = 100  # arrays with more elements print as raw hex, as mlir-opt's printer does
_I64 = (-(1 << 63), (1 << 63) - 1)


@dataclass(frozen=True)
class ScalarAttr:
    """A number of a given scalar type, for the types a plain int or float does not imply:
    `4 : index`, `0.5 : f32`, `7 : i32` (the loop level's `arith.constant` values)."""

    value: int | float
    type: ScalarType

    def __str__(self) -> str:
        return print_attribute(self)


class I32Array(tuple):
    """A tuple printed as `array<i32: ...>` (a plain tuple of ints prints as i64)."""


class UnitAttr:
    """MLIR's unit attribute: its presence is the information (`{gpu.kernel}`)."""

    def __repr__(self) -> str:
        return "UNIT"


UNIT = UnitAttr()


class SymbolRef(tuple):
    """A reference to a symbol through nested symbol tables: ("kernels", "k0") is
    `@kernels::@k0`."""


@dataclass(frozen=True)
class DialectAttr:
    """An attribute in a dialect's own syntax, kept as its text: `#gpu<dim x>`."""

    text: str


def parse_attribute(text: str) -> Any:
    """The Python value of one attribute written in `text` (the whole text)."""
    cur = Cursor(text)
    value = parse_attribute_at(cur)
    if not cur.at_end():
        raise cur.error(f"unexpected {cur.next_token()} after the attribute")
    return value


# --- types -----------------------------------------------------------------------------------

def print_type(t: TensorType | MemRefType | ScalarType) -> str:
    """`tensor<2x3xf32>`, `memref<4xi64>`, `index`, `f32`."""
    return str(t)


def parse_type(cur: Cursor) -> TensorType | MemRefType | ScalarType:
    start = cur.skip()
    scalar = cur.match(_SCALAR_TYPE)
    if scalar:
        return ScalarType(scalar.group())
    m = cur.expect_match(_TENSOR, "a type such as tensor<2x3xf32>, memref<4xf32> or index")
    try:
        dtype = dtypes.from_mlir(m.group(3))
    except KeyError:
        raise cur.error(f"unknown element type '{m.group(3)}'", start + len(m.group(1)) + 1
                        + len(m.group(2))) from None
    shape = tuple(int(d) for d in m.group(2).split("x")[:-1])
    if m.group(1) == "tensor":
        if m.group(4):
            raise cur.error("a tensor type has no memory space", start)
        return TensorType(shape, dtype)
    return MemRefType(shape, dtype, int(m.group(4) or 0))


def print_type_list(types) -> str:
    """`t1, t2` (no parentheses)."""
    return ", ".join(print_type(t) for t in types)


def parse_type_list(cur: Cursor, close: str) -> list[TensorType]:
    """Types separated by commas, up to (not including) `close`; possibly none."""
    types = []
    if not cur.peek(close):
        types.append(parse_type(cur))
        while cur.accept(","):
            types.append(parse_type(cur))
    return types


def print_function_type(ft: FunctionType) -> str:
    """`(t1, t2) -> t`, or `-> (t1, t2)` / `-> ()` for other than one result."""
    return str(ft)


def parse_function_type(cur: Cursor) -> FunctionType:
    cur.expect("(", "'(' starting a function type")
    inputs = parse_type_list(cur, ")")
    cur.expect(")")
    cur.expect("->")
    if cur.accept("("):
        results = parse_type_list(cur, ")")
        cur.expect(")")
    else:
        results = [parse_type(cur)]
    return FunctionType(inputs, results)


# --- attribute dictionaries ------------------------------------------------------------------

def print_attr_dict(attrs: dict[str, Any]) -> str:
    """`{a = 1 : i64, b = true}` with names sorted; empty string for no attributes."""
    if not attrs:
        return ""
    items = []
    for name in sorted(attrs):
        key = name if _NAME.fullmatch(name) else print_string(name)
        try:
            items.append(f"{key} = {print_attribute(attrs[name])}")
        except (TypeError, ValueError) as e:
            raise type(e)(f"attribute {name!r}: {e}") from None
    return "{" + ", ".join(items) + "}"


def parse_attr_dict(cur: Cursor) -> dict[str, Any]:
    cur.expect("{", "'{' starting an attribute dictionary")
    attrs: dict[str, Any] = {}
    if cur.accept("}"):
        return attrs
    while True:
        start = cur.skip()
        name = parse_string(cur) if cur.peek('"') else cur.expect_match(
            _NAME, "an attribute name").group()
        if name in attrs:
            raise cur.error(f"duplicate attribute '{name}'", start)
        cur.expect("=")
        attrs[name] = parse_attribute_at(cur)
        if not cur.accept(","):
            break
    cur.expect("}", "',' or '}' in an attribute dictionary")
    return attrs


# --- single attributes -----------------------------------------------------------------------

def print_attribute(value: Any) -> str:
    """The MLIR text of one Python attribute value (see the table in the module docstring)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        if not _I64[0] <= value <= _I64[1]:
            raise ValueError(f"integer {value} does not fit in i64")
        return f"{int(value)} : i64"
    if isinstance(value, (float, np.floating)):
        return f"{_print_element(np.float64(value), dtypes.float64)} : f64"
    if isinstance(value, str):
        return print_string(value)
    if isinstance(value, ScalarAttr):
        return _print_scalar_attr(value)
    if value is UNIT:
        return "unit"
    if isinstance(value, SymbolRef):
        from ember.ir.printer import print_symbol

        return "::".join(print_symbol(name) for name in value)
    if isinstance(value, DialectAttr):
        return value.text
    if isinstance(value, I32Array):
        return f"array<i32: {', '.join(str(int(v)) for v in value)}>" if value else "array<i32>"
    if isinstance(value, (tuple, list)):
        return print_array(value)
    if isinstance(value, np.ndarray):
        return print_dense(value)
    if isinstance(value, FunctionType):
        return print_function_type(value)
    raise TypeError(f"cannot print {type(value).__name__} {value!r} as an MLIR attribute")


def parse_attribute_at(cur: Cursor) -> Any:
    """Parse one attribute at the cursor."""
    start = cur.skip()
    if cur.accept_word("true"):
        return True
    if cur.accept_word("false"):
        return False
    if cur.peek('"'):
        return parse_string(cur)
    if cur.accept("array<"):
        return parse_array(cur)
    if cur.accept("dense<"):
        return parse_dense(cur, start)
    if cur.peek("("):
        return parse_function_type(cur)
    if cur.accept_word("unit"):
        return UNIT
    if cur.peek("@"):
        return _parse_symbol_ref(cur)
    if cur.peek("#"):
        return _parse_dialect_attr(cur)
    m = cur.match(_NUMBER)
    if m is None:
        raise cur.error(f"expected an attribute value, found {cur.next_token()}")
    if cur.accept(":"):
        type_ = ScalarType(cur.expect_match(_SCALAR_TYPE, "an element type or index").group())
    else:
        type_ = ScalarType("f64" if "." in m.group() else "i64")
    if type_.name == "i1":
        raise cur.error("write i1 attributes as true or false", start)
    # index values are 64-bit integers, as on every target Ember compiles for.
    dtype = dtypes.int64 if type_ == INDEX else type_.dtype
    value = _parse_element(cur, m.group(), dtype, start).item()
    value = float(value) if dtype.is_floating_point else int(value)
    return value if type_.name in ("i64", "f64") else ScalarAttr(value, type_)


def _parse_symbol_ref(cur: Cursor) -> SymbolRef:
    names = [_parse_symbol(cur)]
    while cur.accept("::"):
        names.append(_parse_symbol(cur))
    return SymbolRef(names)


def _parse_symbol(cur: Cursor) -> str:
    """`@name` or `@"quoted name"`."""
    cur.expect("@", "a symbol such as @name")
    if cur.peek('"'):
        return parse_string(cur)
    return cur.expect_match(_NAME, "a symbol name after '@'").group()


def _parse_dialect_attr(cur: Cursor) -> DialectAttr:
    """`#dialect<...>` up to its matching `>` (nested `<...>` included)."""
    start = cur.skip()
    m = cur.expect_match(_DIALECT_ATTR, "a dialect attribute such as #gpu<dim x>")
    depth, pos = 1, m.end()
    while depth:
        if pos >= len(cur.text):
            raise cur.error("unterminated dialect attribute", start)
        depth += {"<": 1, ">": -1}.get(cur.text[pos], 0)
        pos += 1
    cur.pos = pos
    return DialectAttr(cur.text[start:pos])


def _print_scalar_attr(attr: ScalarAttr) -> str:
    """`4 : index`, `0.5 : f32`: the value printed exactly in its own type."""
    dtype = dtypes.int64 if attr.type == INDEX else attr.type.dtype
    if dtype is dtypes.bool_:
        return "true" if attr.value else "false"
    value = np.array(attr.value).astype(dtype.numpy)[()]
    return f"{_print_element(value, dtype)} : {attr.type}"


def _parse_element_type(cur: Cursor) -> dtypes.DType:
    return dtypes.from_mlir(cur.expect_match(_ELEMENT_TYPE, "an element type").group())


# --- strings ---------------------------------------------------------------------------------

def print_string(s: str) -> str:
    """A quoted MLIR string: `"` and `\\` escaped, other unprintable bytes as `\\XX`."""
    out = []
    for byte in s.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:02X}")
    return '"' + "".join(out) + '"'


def parse_string(cur: Cursor) -> str:
    start = cur.skip()
    m = cur.expect_match(_STRING, "a string")
    out = bytearray()
    last = 0
    body = m.group(1)
    for esc in _ESCAPE.finditer(body):
        out += body[last:esc.start()].encode("utf-8")
        last = esc.end()
        if esc.group(1):
            out.append(int(esc.group(1), 16))
        elif esc.group(2) in '"\\':
            out += esc.group(2).encode()
        elif esc.group(2) in "nt":
            out += b"\n" if esc.group(2) == "n" else b"\t"
        else:
            raise cur.error(f"unknown escape '\\{esc.group(2)}' in a string",
                            start + 1 + esc.start())
    out += body[last:].encode("utf-8")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise cur.error("string is not valid UTF-8", start) from None


# --- dense arrays (tuples) -------------------------------------------------------------------

def print_array(values) -> str:
    """`array<i64: 1, 2>` for ints, `array<i1: ...>` for bools, `array<f64: ...>` for floats."""
    if all(isinstance(v, (bool, np.bool_)) for v in values) and values:
        dtype = dtypes.bool_
    elif all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
             for v in values):
        dtype = dtypes.int64
    elif all(isinstance(v, (float, np.floating)) for v in values):
        dtype = dtypes.float64
    else:
        raise TypeError(f"cannot print {values!r}: array attributes hold only ints, only "
                        f"floats or only bools")
    if not values:
        return "array<i64>"
    elements = np.array(values, dtype=dtype.numpy)
    if dtype is dtypes.int64 and any(not _I64[0] <= v <= _I64[1] for v in values):
        raise ValueError(f"{values!r} does not fit in i64")
    return f"array<{dtype.mlir}: {', '.join(_print_element(e, dtype) for e in elements)}>"


def parse_array(cur: Cursor) -> tuple:
    """After `array<`."""
    i32 = cur.peek("i32")
    dtype = _parse_element_type(cur)
    values = []
    if cur.accept(":"):
        while True:
            start = cur.skip()
            text = cur.expect_match(_ELEMENT, f"an {dtype.mlir} element").group()
            values.append(_parse_element(cur, text, dtype, start).item())
            if not cur.accept(","):
                break
    cur.expect(">", "',' or '>' closing the array")
    return I32Array(values) if i32 else tuple(values)


# --- dense elements (ndarrays) ---------------------------------------------------------------

def print_dense(array: np.ndarray) -> str:
    """`dense<...> : tensor<...>`: splat, nested lists, raw hex or empty."""
    dtype = dtypes.from_numpy(array.dtype)
    if dtype.numpy != array.dtype:
        raise TypeError(f"cannot print a {array.dtype} array: Ember arrays hold "
                        f"{', '.join(d.name for d in dtypes.ALL_DTYPES)}")
    flat = np.ascontiguousarray(array).reshape(-1)
    type_ = TensorType(tuple(array.shape), dtype)
    raw = flat.astype(flat.dtype.newbyteorder("<")).view(np.uint8).reshape(
        flat.size, dtype.itemsize)
    if flat.size == 0:
        body = ""
    elif (raw == raw[0]).all():  # bitwise, so that -0.0 and nan payloads survive
        body = _print_element(flat[0], dtype) if _literal_ok(flat[:1], dtype) else \
            '"0x' + raw[0].tobytes().hex().upper() + '"'
    elif not _literal_ok(flat, dtype) or flat.size > _HEX_THRESHOLD and dtype is not dtypes.bool_:
        body = '"0x' + raw.tobytes().hex().upper() + '"'
    else:
        body = _print_nested(flat.reshape(array.shape), dtype)
    return f"dense<{body}> : {print_type(type_)}"


def _literal_ok(flat: np.ndarray, dtype: dtypes.DType) -> bool:
    """Whether the values print as decimal literals: f16/bf16 and non-finite floats go as hex."""
    if dtype in (dtypes.float16, dtypes.bfloat16):
        return False
    return not dtype.is_floating_point or bool(np.isfinite(flat).all())


def _print_nested(array: np.ndarray, dtype: dtypes.DType) -> str:
    if array.ndim == 0:
        return _print_element(array[()], dtype)
    return "[" + ", ".join(_print_nested(sub, dtype) for sub in array) + "]"


def parse_dense(cur: Cursor, start: int) -> np.ndarray:
    """After `dense<`; `start` is where the attribute began."""
    body_pos = cur.skip()
    if cur.peek(">"):
        kind, payload, shape = "empty", None, (0,)
    elif cur.peek('"'):
        kind, payload, shape = "hex", parse_string(cur), None
    elif cur.peek("["):
        kind, (payload, shape) = "nested", _parse_nested(cur)
    else:
        kind, payload, shape = "splat", [(cur.skip(), cur.expect_match(
            _ELEMENT, "a dense element").group())], ()
    cur.expect(">", "'>' closing the dense literal")
    cur.expect(":", "':' and the tensor type of the dense literal")
    type_ = parse_type(cur)
    numpy_type = type_.dtype.numpy
    if kind == "hex":
        return _parse_hex(cur, payload, type_, body_pos)
    if kind == "empty" or (kind == "nested" and not payload):
        if type_.numel:
            raise cur.error(f"empty dense literal for {type_}", start)
        return np.zeros(type_.shape, numpy_type)
    values = np.array([_parse_element(cur, text, type_.dtype, pos) for pos, text in payload],
                      dtype=numpy_type)
    if kind == "splat":
        return np.full(type_.shape, values[0], dtype=numpy_type)
    if shape != type_.shape:
        raise cur.error(f"dense literal of shape {shape} does not match {type_}", body_pos)
    return values.reshape(shape)


def _parse_nested(cur: Cursor) -> tuple[list[tuple[int, str]], tuple[int, ...]]:
    """`[...]` -> (the (position, text) of every element in order, the shape)."""
    open_pos = cur.expect("[")
    elements: list[tuple[int, str]] = []
    shapes = []
    while not cur.peek("]"):
        if cur.peek("["):
            inner, shape = _parse_nested(cur)
            elements += inner
        else:
            elements.append((cur.skip(), cur.expect_match(_ELEMENT, "a dense element").group()))
            shape = ()
        shapes.append(shape)
        if not cur.accept(","):
            break
    cur.expect("]", "',' or ']' in a dense literal")
    if any(s != shapes[0] for s in shapes):
        raise cur.error("ragged dense literal: sublists differ in shape", open_pos)
    return elements, (len(shapes),) + (shapes[0] if shapes else ())


def _parse_hex(cur: Cursor, text: str, type_: TensorType, pos: int) -> np.ndarray:
    numpy_type = type_.dtype.numpy
    if type_.dtype is dtypes.bool_:
        raise cur.error("hex dense literals of i1 are not supported; write true/false", pos)
    try:
        assert text.startswith("0x")
        data = bytes.fromhex(text[2:])
    except (AssertionError, ValueError):
        raise cur.error('expected "0x" and hex digits in a hex dense literal', pos) from None
    values = np.frombuffer(data, dtype=numpy_type.newbyteorder("<")).astype(numpy_type)
    if len(data) == numpy_type.itemsize:  # one element stands for all, as in MLIR
        return np.full(type_.shape, values[0], dtype=numpy_type)
    if values.size != type_.numel or len(data) % numpy_type.itemsize:
        raise cur.error(f"hex dense literal of {len(data)} bytes does not match {type_}", pos)
    return values.reshape(type_.shape)


# --- numbers ---------------------------------------------------------------------------------

def _print_element(value, dtype: dtypes.DType) -> str:
    """One scalar as a literal that reads back bit-exactly as `dtype`."""
    if dtype is dtypes.bool_:
        return "true" if value else "false"
    if not dtype.is_floating_point:
        return str(int(value))
    if not np.isfinite(value):
        bits = np.array(value, dtype=dtype.numpy).view(f"<u{dtype.itemsize}")
        return f"0x{int(bits):0{2 * dtype.itemsize}X}"
    # The shortest form in the value's own precision, unless reading it through f64 (as both
    # MLIR and this parser do) would double-round; the exact f64 form always reads back.
    for text in (str(np.array(value, dtype=dtype.numpy)[()]), repr(float(value))):
        text = _float_literal(text)
        parsed = np.array(float(text)).astype(dtype.numpy)
        if parsed.tobytes() == np.array(value, dtype=dtype.numpy).tobytes():
            return text
    raise AssertionError(f"no exact literal for {value!r}")


def _float_literal(text: str) -> str:
    """Python/NumPy float text in MLIR's float syntax, which needs a `.` before any exponent."""
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}" if exponent else mantissa


def _parse_element(cur: Cursor, text: str, dtype: dtypes.DType, pos: int) -> np.ndarray:
    """The 0-d array of `dtype` that the literal `text` at `pos` denotes."""
    if dtype is dtypes.bool_:
        if text not in ("true", "false", "0", "1"):
            raise cur.error(f"expected true or false for i1, found '{text}'", pos)
        return np.array(text in ("true", "1"))
    if text in ("true", "false"):
        raise cur.error(f"expected a number for {dtype.mlir}, found '{text}'", pos)
    if "0x" in text:
        bits = int(text, 16)
        if dtype.is_floating_point:
            if bits < 0 or bits >= 1 << (8 * dtype.itemsize):
                raise cur.error(f"hex literal {text} does not fit {dtype.mlir}", pos)
            return np.array(bits, dtype=f"<u{dtype.itemsize}").view(dtype.numpy)
        value = bits
    elif dtype.is_floating_point:
        return np.array(float(text)).astype(dtype.numpy)
    elif "." in text:
        raise cur.error(f"expected an integer for {dtype.mlir}, found '{text}'", pos)
    else:
        value = int(text)
    info = np.iinfo(dtype.numpy)
    if not info.min <= value <= info.max:
        raise cur.error(f"integer {text} does not fit {dtype.mlir}", pos)
    return np.array(value, dtype=dtype.numpy)
