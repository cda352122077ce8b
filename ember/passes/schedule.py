"""Scheduling: reorder each function body to lower its peak of live tensor memory.

A function body is a DAG of ops ending in its terminator. Any topological order computes the
same values, but the order decides how many tensors are alive at once. The memory model is
`ember.passes.memory_plan`'s: arguments live throughout (so they shift every order's peak
equally), each result from its op to its last use.

The greedy list scheduler repeatedly picks, among the ops whose operands are all computed, the
one that changes the live bytes least: the bytes of its results that are used later minus the
bytes of the operands it is the last user of. Ties go to the op that came first, so a body
already in a good order keeps it.
"""

from __future__ import annotations

from ember.ir.core import Operation, functions
from ember.passes.memory_plan import body, clear_plan, peak_live_bytes, users
from ember.passes.pass_manager import Pass, register_pass


def greedy_order(func: Operation) -> list[Operation]:
    """A topological order of `func`'s body (terminator last) chosen to free memory early."""
    block = body(func)
    ops, terminator = block.operations[:-1], block.operations[-1]
    position = {op: i for i, op in enumerate(ops)}
    value_users = users(block)
    # The values each op reads (its nested ops' included) that are produced in the body.
    reads = {op: [v for v in dict.fromkeys(u for n in op.walk() for u in n.operands)
                  if v in value_users] for op in ops}
    waiting = {op: len({v.owner for v in reads[op]}) for op in ops}
    remaining = {v: set(us) for v, us in value_users.items()}  # users not yet scheduled

    def delta(op: Operation) -> int:
        allocated = sum(r.type.nbytes for r in op.results if value_users[r])
        freed = sum(v.type.nbytes for v in reads[op] if remaining[v] == {op})
        return allocated - freed

    order: list[Operation] = []
    ready = [op for op in ops if waiting[op] == 0]
    while ready:
        op = min(ready, key=lambda o: (delta(o), position[o]))
        ready.remove(op)
        order.append(op)
        for value in reads[op]:
            remaining[value].discard(op)
        for consumer in dict.fromkeys(u for r in op.results for u in value_users[r]):
            if consumer is not terminator:
                waiting[consumer] -= 1
                if waiting[consumer] == 0:
                    ready.append(consumer)
    return order + [terminator]


def schedule_function(func: Operation) -> bool:
    """Reorder `func`'s body by `greedy_order` if that lowers its peak; whether it changed."""
    block = body(func)
    order = greedy_order(func)
    if peak_live_bytes(func, order) >= peak_live_bytes(func):
        return False
    block.operations = order
    clear_plan(func)
    return True


@register_pass
class Schedule(Pass):
    """Reorder each function body into a topological order with a lower peak of live memory.

    Guarantees: the new order respects every def-use edge (uses inside an op's regions
    included), keeps the terminator last and changes no op, so the function computes the same
    results; its peak live bytes are never above the original order's (a body is reordered only
    when the peak strictly drops, and then any recorded memory plan is removed); the result is
    deterministic (ties are broken by original position).
    """

    name = "schedule"

    def run(self, module: Operation) -> None:
        for func in functions(module):
            schedule_function(func)
