"""`donate-buffers`: store a result straight into an argument's buffer, where the function
allows it and its loops make it safe (loops IR).

A compiled training step returns every parameter and optimizer state it updates as a result,
and the caller then copies each result back into the tensor it came from: for a model's weights
that is a second write and a second read of every updated buffer per step. A graph function's
`ember.donate = array<i64: r0, a0, r1, a1, ...>` (set by `ember.jit` for such write-backs) says
that result r_i may be stored into argument a_i's buffer; `lower-to-loops` carries it over as
pairs of memref argument positions. Where that is safe this pass makes
the result's stores go to the argument's memref and removes the result's memref argument; the
function's `ember.results_in_arguments` then lists the pairs done (positions in the signature
before the removal), and the runtime hands back those arguments' buffers as the results.

Safe means, over the top-level ops of the function body:
- one op N stores to the result, with a single store whose indices are the induction variables
  of the loops around it (each element is written once); nothing in N loads the result, and
  nothing before N touches it;
- every load of the argument in N sits in that store's block, before it, at the same indices:
  each element is read and then overwritten in one iteration (an elementwise update);
- nothing after N reads or writes the argument, and nothing anywhere else writes it;
- nothing from N on reports an index error. If the function can report one, N runs only when
  no error was reported before it, so a call that raises leaves the argument as it was.
"""

from __future__ import annotations

from ember.ir.attributes import ScalarAttr
from ember.ir.core import Block, Operation, Value, uses
from ember.ir.types import INDEX
from ember.passes.loop_analysis import constant_value, memory_accesses, trip_count
from ember.passes.lowering.emitter import CMPI, I1, I64
from ember.passes.pass_manager import Pass, register_pass


def _accesses(body: Block, memref: Value) -> list[tuple[Operation, Operation, list[Value]]]:
    """(top-level op of the body, access, indices) of each load and store of `memref`, in
    program order."""
    return [(top, op, indices) for top in body.operations
            for op, accessed, indices in memory_accesses(top) if accessed is memref]


def _only_loaded_and_stored(body: Block, memref: Value) -> bool:
    return all(op.name in ("memref.load", "memref.store") for top in body.operations
               for op, _ in uses(top, memref))


def _writer(body: Block, result: Value, argument: Value) -> Operation | None:
    """The top-level op N that may store `result` into `argument`'s buffer, or None."""
    if result.type != argument.type or not (_only_loaded_and_stored(body, result)
                                            and _only_loaded_and_stored(body, argument)):
        return None
    result_accesses = _accesses(body, result)
    stores = [(top, op, indices) for top, op, indices in result_accesses
              if op.name == "memref.store"]
    if len(stores) != 1:
        return None
    writer, store, indices = stores[0]
    if not _stores_each_element_once(store, writer):
        return None
    order = {id(op): i for i, op in enumerate(body.operations)}
    position = order[id(writer)]
    if any(top is writer and op is not store or order[id(top)] < position
           for top, op, _ in result_accesses):
        return None
    block = store.parent
    for top, op, at in _accesses(body, argument):
        if op.name == "memref.store" or order[id(top)] > position:
            return None
        if top is writer and not (op.parent is block and at == indices and
                                  block.operations.index(op) < block.operations.index(store)):
            return None
    return writer


def _stores_each_element_once(store: Operation, writer: Operation) -> bool:
    """Whether each iteration of the loops around `store` (up to `writer`) writes its own
    element: every index is the induction variable of one of them or fixed (a constant, or the
    variable of a loop of one iteration), and every loop of more iterations gives an index."""
    varying, fixed = [], []
    op = store
    while op is not writer:
        op = op.parent.parent.parent
        if op.name == "scf.for":
            iv = op.regions[0].blocks[0].arguments[0]
            (fixed if trip_count(op) == 1 else varying).append(iv)
    indices = store.operands[2:]
    return (all(any(i is v for i in indices) for v in varying)
            and all(any(i is v for v in varying + fixed) or constant_value(i) is not None
                    for i in indices))


def _reports_errors(op: Operation, status: Value) -> bool:
    return any(inner.name == "memref.store" and memref is status
               for inner, memref, _ in memory_accesses(op))


def _guard(body: Block, writer: Operation, status: Value) -> None:
    """Run `writer` only if the status word says no error was reported."""
    index = body.operations.index(writer)
    zero_index = Operation("arith.constant", [], [INDEX], {"value": ScalarAttr(0, INDEX)})
    zero = Operation("arith.constant", [], [I64], {"value": 0})
    word = Operation("memref.load", [status, zero_index.result], [I64])
    ok = Operation("arith.cmpi", [word.result, zero.result], [I1], {"predicate": CMPI["eq"]})
    guarded = Operation("scf.if", [ok.result], regions=2)
    then, otherwise = guarded.regions[0].add_block(), guarded.regions[1].add_block()
    body.operations.remove(writer)
    then.append(writer)
    then.append(Operation("scf.yield"))
    otherwise.append(Operation("scf.yield"))
    for position, op in enumerate([zero_index, zero, word, ok, guarded]):
        op.parent = body
        body.operations.insert(index + position, op)


def donate(func: Operation) -> None:
    """Apply the function's `ember.donate` pairs that are safe (see the module doc)."""
    pairs = list(func.attributes.pop("ember.donate", ()))
    body = func.regions[0].blocks[0]
    status = body.arguments[-1]
    can_fail = "ember.error_ops" in func.attributes
    done, writers = [], []
    for result_position, argument_position in zip(pairs[::2], pairs[1::2]):
        result, argument = body.arguments[result_position], body.arguments[argument_position]
        writer = _writer(body, result, argument)
        if writer is None or can_fail and any(
                _reports_errors(op, status)
                for op in body.operations[body.operations.index(writer):]):
            continue
        for op in writer.walk():
            op.operands = [argument if v is result else v for v in op.operands]
        done.append((result_position, argument_position))
        if writer not in writers:
            writers.append(writer)
    if not done:
        return
    if can_fail:
        for writer in writers:
            _guard(body, writer, status)
    removed = {position for position, _ in done}
    body.arguments = [a for i, a in enumerate(body.arguments) if i not in removed]
    for i, argument in enumerate(body.arguments):
        argument.index = i
    ft = func.attributes["function_type"]
    func.attributes["function_type"] = type(ft)([a.type for a in body.arguments], ft.results)
    func.attributes["ember.results_in_arguments"] = tuple(n for pair in done for n in pair)


@register_pass
class DonateBuffersPass(Pass):
    """Store results into the argument buffers `ember.donate` offers, where safe (loops IR;
    see module doc)."""

    name = "donate-buffers"

    def run(self, module: Operation) -> None:
        for op in module.regions[0].blocks[0].operations:
            if op.name == "func.func":
                donate(op)
