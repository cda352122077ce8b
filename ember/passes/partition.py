"""Forward/backward partitioning: choose what the forward saves and what the backward recomputes.

A module holds a forward function and the backward function derived from it, tied together by
discardable attributes (set by `combine`, or by hand):

    func.func @f(...) -> (..., residuals) attributes {ember.backward = "f_backward",
                                                      ember.residuals = 3 : i64}
    func.func @f_backward(cotangents..., residuals...) -> (...)
        attributes {ember.residual_args = 3 : i64}

The forward's last `ember.residuals` results are passed, in order, as the backward's last
`ember.residual_args` arguments. The pass replaces that residual set by a minimum cut of the
forward's dataflow graph (AOTAutograd's min-cut rematerialisation): every value is a node split
into `in -> out` with capacity = its size in bytes (the cost of saving it), dataflow edges and
the source edges are infinite, and each value the backward uses is tied to the sink. The cut
edges are the values to save; the backward recomputes the rest by cloning forward ops at its
start. Values too costly to recompute (matmul, conv, reductions, gather/scatter, random, and any
op outside the op table) are tied to the source, so the cut falls at or after them.

Forward arguments are treated like other values: saving one costs its bytes. The backward sees
only cotangents and residuals, so an argument it needs has to travel as a residual; counting
its bytes lets the cut prefer, say, one matmul output over the two operands that feed an
elementwise chain. The forward ops left without uses are removed by DCE, not here.
"""

from __future__ import annotations

from typing import ClassVar

from ember.ir.core import (Block, FunctionType, Operation, Value, functions, insert_before,
                           module_op, replace_all_uses, uses)
from ember.ir.primitive import PRIMITIVES
from ember.passes.pass_manager import Pass, register_pass

RESIDUALS = "ember.residuals"
BACKWARD = "ember.backward"
RESIDUAL_ARGS = "ember.residual_args"

# Primitive kinds whose results are saved rather than recomputed: costly to compute again, or
# (random) drawn once, as AOTAutograd does, though Philox could redraw the same numbers.
_SAVE_KINDS = {"matmul", "conv", "reduction", "index", "random"}


@register_pass
class Partition(Pass):
    """Save the fewest residual bytes (min-cut) and recompute cheap forward ops in backward."""

    name: ClassVar[str] = "partition"

    def run(self, module: Operation) -> None:
        partition_module(module)


def partition_module(module: Operation) -> None:
    """Repartition every forward/backward pair of `module` in place (see the module docstring).

    A pair is left unchanged unless the cut saves strictly fewer bytes than its residuals do.
    """
    for forward in functions(module):
        if RESIDUALS in forward.attributes:
            _partition_pair(forward, _backward_of(module, forward))


def saved_bytes(module: Operation) -> int:
    """Bytes of the residuals that the forward functions of `module` save for their backward."""
    total = 0
    for forward in functions(module):
        if RESIDUALS in forward.attributes:
            results = forward.attributes["function_type"].results
            total += sum(t.nbytes
                         for t in results[len(results) - forward.attributes[RESIDUALS]:])
    return total


def combine(forward_module: Operation, backward_module: Operation,
            n_residuals: int) -> Operation:
    """A new module holding copies of both functions, tied by the partitioning attributes.

    `n_residuals`: how many trailing forward results (and backward arguments) are residuals.
    """
    forward, backward = (_clone(_only_function(m), {}) for m in (forward_module, backward_module))
    if forward.attributes["sym_name"] == backward.attributes["sym_name"]:
        raise ValueError(f"partition.combine: forward and backward are both named "
                         f"@{forward.attributes['sym_name']}")
    forward.attributes[RESIDUALS] = n_residuals
    forward.attributes[BACKWARD] = backward.attributes["sym_name"]
    backward.attributes[RESIDUAL_ARGS] = n_residuals
    module = module_op()
    module.regions[0].blocks[0].append(forward)
    module.regions[0].blocks[0].append(backward)
    return module


def split(module: Operation) -> tuple[Operation, Operation, int]:
    """The inverse of `combine`: (forward module, backward module, number of residuals).

    The functions are copied without the partitioning attributes; `module` holds one pair.
    """
    pairs = [f for f in functions(module) if RESIDUALS in f.attributes]
    if len(pairs) != 1:
        raise ValueError(f"partition.split: expected one forward function with {RESIDUALS}, "
                         f"found {len(pairs)}")
    forward = pairs[0]
    n_residuals = forward.attributes[RESIDUALS]
    modules = []
    for func in (forward, _backward_of(module, forward)):
        copy = _clone(func, {})
        for name in (RESIDUALS, BACKWARD, RESIDUAL_ARGS):
            copy.attributes.pop(name, None)
        modules.append(module_op())
        modules[-1].regions[0].blocks[0].append(copy)
    return modules[0], modules[1], n_residuals


# --- the cut ---------------------------------------------------------------------------------

def _partition_pair(forward: Operation, backward: Operation) -> None:
    n = forward.attributes[RESIDUALS]
    if backward.attributes.get(RESIDUAL_ARGS) != n:
        raise ValueError(f"partition: @{forward.attributes['sym_name']} has {RESIDUALS} = {n} "
                         f"but @{backward.attributes['sym_name']} has {RESIDUAL_ARGS} = "
                         f"{backward.attributes.get(RESIDUAL_ARGS)}")
    ret = _body(forward).operations[-1]
    residuals = ret.operands[len(ret.operands) - n:]
    residual_args = _body(backward).arguments[len(_body(backward).arguments) - n:]
    if [a.type for a in residual_args] != [r.type for r in residuals]:
        raise ValueError(f"partition: the residual types of @{forward.attributes['sym_name']} "
                         f"do not match the last {n} argument types of "
                         f"@{backward.attributes['sym_name']}")
    # Only residuals the backward reads must reach it; unread ones are dropped.
    needed = list(dict.fromkeys(r for r, arg in zip(residuals, residual_args)
                                if uses(backward, arg)))
    saved, recompute = _min_cut(forward, needed)
    if sum(v.type.nbytes for v in saved) >= sum(v.type.nbytes for v in residuals):
        return
    _rewrite(forward, backward, residuals, residual_args, saved, recompute)


def _min_cut(forward: Operation, needed: list[Value]) -> tuple[list[Value], list[Operation]]:
    """(values to save, ops to recompute), both in forward order, that produce `needed`."""
    import networkx as nx  # here, not at the top: its import costs a forward-only compile 0.2 s

    order = _forward_order(forward)
    graph = nx.DiGraph()
    # The source is there even when nothing needed depends on an input (a gradient that is
    # a constant, as of a * 2 + b): then every needed value is recomputed.
    graph.add_node("source")
    # Nodes go in in forward order, so that ties between equal cuts break the same every run.
    for v in sorted(_ancestors(needed), key=order.__getitem__):
        graph.add_edge((v, "in"), (v, "out"), capacity=v.type.nbytes)
        if v.is_block_argument or not _recomputable(v.owner):
            graph.add_edge("source", (v, "in"))  # no capacity: infinite
        else:
            for u in v.owner.operands:
                graph.add_edge((u, "out"), (v, "in"))
    for v in needed:
        graph.add_edge((v, "out"), "sink")
    source_side = nx.minimum_cut(graph, "source", "sink")[1][0] if needed else set()
    # Walk back from the needed values: each is saved if its `in` node stayed with the source
    # (the cut crosses its in -> out edge), or else recomputed from its operands.
    saved, recompute, seen, stack = [], [], set(), list(needed)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if (v, "in") in source_side:
            saved.append(v)
        else:
            recompute.append(v.owner)
            stack.extend(v.owner.operands)
    return (sorted(saved, key=order.__getitem__),
            sorted(recompute, key=lambda op: order[op.results[0]]))


def _ancestors(values: list[Value]) -> set[Value]:
    """`values` and every value they are computed from."""
    seen, stack = set(), list(values)
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            if not v.is_block_argument:
                stack.extend(v.owner.operands)
    return seen


def _recomputable(op: Operation) -> bool:
    prim = PRIMITIVES.get(op.opname) if op.dialect == "ember" else None
    return prim is not None and prim.kind not in _SAVE_KINDS and len(op.results) == 1


# --- the rewrite -----------------------------------------------------------------------------

def _rewrite(forward: Operation, backward: Operation, residuals: list[Value],
             residual_args: list[Value], saved: list[Value], recompute: list[Operation]) -> None:
    """Make `forward` return `saved` and `backward` take them and recompute the rest."""
    ret = _body(forward).operations[-1]
    ret.operands = ret.operands[:len(ret.operands) - len(residuals)] + saved
    forward.attributes[RESIDUALS] = len(saved)
    _retype(forward)

    block = _body(backward)
    mapping = {v: block.add_argument(v.type) for v in saved}
    first = block.operations[0]
    for op in recompute:
        insert_before(first, _clone(op, mapping))
    for value, arg in zip(residuals, residual_args):
        if uses(backward, arg):
            replace_all_uses(backward, arg, mapping[value])
    _drop_arguments(block, residual_args)
    backward.attributes[RESIDUAL_ARGS] = len(saved)
    _retype(backward)


def _drop_arguments(block: Block, dropped: list[Value]) -> None:
    """Remove block arguments that have no uses left, renumbering the rest."""
    block.arguments = [a for a in block.arguments if all(a is not d for d in dropped)]
    for i, arg in enumerate(block.arguments):
        arg.index = i


def _retype(func: Operation) -> None:
    body = _body(func)
    func.attributes["function_type"] = FunctionType(
        [a.type for a in body.arguments], [v.type for v in body.operations[-1].operands])


def _clone(op: Operation, mapping: dict[Value, Value]) -> Operation:
    """A copy of `op` (and its regions) whose operands are looked up in `mapping`.

    The copy's results and block arguments are added to `mapping`.
    """
    new = Operation(op.name, [mapping[v] for v in op.operands], [r.type for r in op.results],
                    dict(op.attributes), len(op.regions))
    for region, new_region in zip(op.regions, new.regions):
        for block in region.blocks:
            new_block = new_region.add_block(Block([a.type for a in block.arguments]))
            mapping.update(zip(block.arguments, new_block.arguments))
            for inner in block.operations:
                new_block.append(_clone(inner, mapping))
    mapping.update(zip(op.results, new.results))
    new.location = op.location
    return new


# --- small queries ---------------------------------------------------------------------------

def _body(func: Operation) -> Block:
    return func.regions[0].blocks[0]


def _only_function(module: Operation) -> Operation:
    funcs = functions(module)
    if len(funcs) != 1:
        raise ValueError(f"partition.combine: expected a module with one function, "
                         f"got {len(funcs)}")
    return funcs[0]


def _backward_of(module: Operation, forward: Operation) -> Operation:
    name = forward.attributes.get(BACKWARD)
    for func in functions(module):
        if func.attributes["sym_name"] == name:
            return func
    raise ValueError(f"partition: @{forward.attributes['sym_name']} names its backward "
                     f"{BACKWARD} = {name!r}, which is not a function of the module")


def _forward_order(forward: Operation) -> dict[Value, int]:
    body = _body(forward)
    values = list(body.arguments) + [r for op in body.operations for r in op.results]
    return {v: i for i, v in enumerate(values)}
