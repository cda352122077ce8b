"""Fusion: group the ember ops of each function into `ember.fusion` kernels.

The pass plans groups on the dataflow graph of each function body (a `_Digraph` whose
nodes are groups of ops, one op each at the start), then rewrites each group of two or more ops
into one `ember.fusion` op. The policy:

- Vertical fusion, in program order: every op joins the groups of its producers when legal. This
  gives elementwise chains with the movement ops and broadcasts feeding them, reductions with
  their elementwise producers and consumers (softmax, layer norm and log-softmax become one
  kernel each) and matmul/conv2d with their epilogues (bias add, activation, residual add).
- Horizontal fusion afterwards: independent groups without a matmul/conv that iterate over the
  same space (the largest shape they touch) merge into one kernel, as an optimizer step's
  per-parameter updates of equal shape do.
- A merge is legal when the kernel keeps at most `max-ops` ops (clones of constants not counted),
  holds at most one matmul/conv, and then besides it only cheap ops (movement prologues of its
  inputs, the elementwise epilogue): no reduction or gather/scatter_add, which would need its own
  loop nest around the heavy op. Reductions and gather/scatter_add in one kernel share one
  iteration space (their first operand's shape). And the kernel graph stays a DAG: contracting
  the two groups must not close a cycle through another kernel.
- Nothing is computed twice: constants, `full` and `iota` are cloned into each kernel that uses
  them (they cost nothing and need no input buffer); every other op, cheap or not, lives in
  exactly one kernel, and its result is yielded when later kernels need it.
- `random_uniform` fuses as an elementwise producer: its values are a pure function of the seed,
  the offset and the element's index, so a kernel can generate them where they are used.
- A group of one op stays a plain ember op: wrapping it would add nothing for the scheduler.
  Ops that are not primitives (an `ember.fusion` from an earlier run) are never fused but still
  take part in the cycle check.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Callable, Hashable, Iterable

from ember.ir.core import Block, Operation, Value, functions
from ember.ir.primitive import PRIMITIVES
from ember.passes.pass_manager import Pass, register_pass

# Primitive kinds by their role in a kernel.
_CHEAP = {"unary", "binary", "ternary", "movement", "random"}  # pointwise or re-indexing
_ANCHORED = {"reduction", "index"}  # need a whole input: one iteration space per kernel
_HEAVY = {"matmul", "conv"}  # at most one per kernel
_CLONED = {"creation"}  # constant, full, iota: free to recompute in every kernel


def _kind(op: Operation) -> str | None:
    """The op table kind of an ember primitive, None for any other op."""
    if op.dialect == "ember" and op.opname in PRIMITIVES:
        return PRIMITIVES[op.opname].kind
    return None


def kernel_count(module: Operation) -> int:
    """Kernels a module launches: fusion ops plus unfused primitives other than creation ops."""
    return sum(1 for func in functions(module) for op in func.regions[0].blocks[0].operations
               if op.name == "ember.fusion" or _kind(op) not in (None, *_CLONED))


@register_pass
class FusePass(Pass):
    """Group ember ops into ember.fusion kernels (elementwise, reduction, matmul epilogues)."""

    name = "fuse"
    max_ops: int = 64

    def run(self, module: Operation) -> None:
        # Number on from the kernels of an earlier run, so that kernel names stay unique.
        counter = itertools.count(sum(op.name == "ember.fusion" for op in module.walk()))
        for func in functions(module):
            block = func.regions[0].blocks[0]
            planner = _Planner(block, self.max_ops)
            planner.vertical()
            planner.horizontal()
            groups = [ops for ops in planner.groups.values() if len(ops) > 1]
            _rewrite(block, groups, counter)


class _Planner:
    """Groups of the ops of one block, merged greedily while every merge stays legal."""

    def __init__(self, block: Block, max_ops: int) -> None:
        self.max_ops = max_ops
        self.order = {op: i for i, op in enumerate(block.operations)}
        # Creation ops are cloned into their users, so they order nothing; the terminator too.
        nodes = [op for op in block.operations
                 if _kind(op) not in _CLONED and op is not block.operations[-1]]
        self.group_of = {op: i for i, op in enumerate(nodes)}
        self.groups = {i: [op] for i, op in enumerate(nodes)}
        self.ops = _Digraph(nodes)  # op -> op dataflow
        for op in nodes:
            self.ops.add_edges((v.owner, op) for v in op.operands
                               if not v.is_block_argument and v.owner in self.group_of)
        self.kernels = _Digraph(self.group_of.values())  # group -> group dataflow
        self.kernels.add_edges((self.group_of[a], self.group_of[b]) for a, b in self.ops.edges())

    def vertical(self) -> None:
        """Each op, in program order, joins its producers' groups where that is legal."""
        for op in sorted(self.group_of, key=self.order.get):
            for producer in self.ops.predecessors(op):
                self.try_merge(self.group_of[producer], self.group_of[op])

    def horizontal(self) -> None:
        """Independent groups without matmul/conv over the same iteration space merge."""
        by_space: dict[tuple[int, ...], list[int]] = {}
        for gid, ops in sorted(self.groups.items()):
            if not any(_kind(op) in _HEAVY for op in ops) and _fusable(ops[0]):
                by_space.setdefault(_space(ops), []).append(gid)
        for gids in by_space.values():
            merged = [gids[0]]
            for gid in gids[1:]:
                # Join the first earlier kernel that takes it; stay a new kernel otherwise.
                if not any(self.try_merge(other, gid) for other in merged):
                    merged.append(gid)

    def try_merge(self, a: int, b: int) -> bool:
        """Merge group `b` into group `a` if the result is a legal kernel; say whether it did."""
        if a == b or not self.legal(self.groups[a] + self.groups[b]) or self.creates_cycle(a, b):
            return False
        for op in self.groups[b]:
            self.group_of[op] = a
        self.groups[a] += self.groups.pop(b)
        self.kernels.add_edges([(a, s) for s in self.kernels.successors(b) if s != a])
        self.kernels.add_edges([(p, a) for p in self.kernels.predecessors(b) if p != a])
        self.kernels.remove_node(b)
        return True

    def legal(self, ops: list[Operation]) -> bool:
        """Whether `ops` may form one kernel (the module docstring's rules but the cycle check)."""
        if len(ops) > self.max_ops or not all(_fusable(op) for op in ops):
            return False
        heavy = [op for op in ops if _kind(op) in _HEAVY]
        anchored = [op for op in ops if _kind(op) in _ANCHORED]
        if len(heavy) > 1 or len({op.operands[0].type.shape for op in anchored}) > 1:
            return False
        return not (heavy and anchored)

    def creates_cycle(self, a: int, b: int) -> bool:
        """Whether contracting groups a and b closes a cycle: a path between them that passes
        through another group would then leave the merged kernel and come back into it."""
        for src, dst in ((a, b), (b, a)):
            if any(s != dst and self.kernels.has_path(s, dst)
                   for s in self.kernels.successors(src)):
                return True
        return False


def _fusable(op: Operation) -> bool:
    return _kind(op) in _CHEAP | _ANCHORED | _HEAVY


def _cloned(value: Value) -> bool:
    """Whether `value` comes from a constant, full or iota, which kernels clone."""
    return not value.is_block_argument and _kind(value.owner) in _CLONED


def _space(ops: list[Operation]) -> tuple[int, ...]:
    """The iteration space of a kernel: the largest shape among its operands and results."""
    types = [v.type for op in ops for v in (*op.operands, *op.results)]
    return max((t.shape for t in types), key=math.prod)


def _rewrite(block: Block, groups: list[list[Operation]], counter) -> None:
    """Replace each group of ops of `block` by one ember.fusion op, then restore SSA order."""
    order = {op: i for i, op in enumerate(block.operations)}
    users: dict[Value, list[Operation]] = {}
    for op in block.operations:
        for v in op.operands:
            users.setdefault(v, []).append(op)
    replaced: dict[Value, Value] = {}
    fused: set[Operation] = set()
    fusions: dict[Operation, int] = {}  # fusion op -> where its last member op was
    # Kernels are numbered in program order of their first op.
    for ops in sorted((sorted(g, key=order.get) for g in groups), key=lambda g: order[g[0]]):
        members = set(ops)
        fusion, outputs = _build_fusion(ops, members, users, next(counter))
        replaced.update(zip(outputs, fusion.results))
        fused |= members
        fusions[fusion] = order[ops[-1]]
    kept = [op for op in block.operations if op not in fused]
    for op in kept:
        op.operands = [replaced.get(v, v) for v in op.operands]
    for fusion in fusions:
        fusion.operands = [replaced.get(v, v) for v in fusion.operands]
    # Creation ops now used only inside kernels were cloned there and go.
    used = {v for op in [*kept, *fusions] for v in op.operands}
    kept = [op for op in kept if not (op.results and _cloned(op.result)) or op.result in used]
    _set_in_dataflow_order(block, kept + list(fusions), {**order, **fusions})


def _build_fusion(ops: list[Operation], members: set[Operation],
                  users: dict[Value, list[Operation]], number: int):
    """The ember.fusion op computing `ops` (in order), and the outer values it yields."""
    inputs: list[Value] = []
    for op in ops:
        for v in op.operands:
            if not _cloned(v) and v not in inputs \
                    and (v.is_block_argument or v.owner not in members):
                inputs.append(v)
    outputs = [r for op in ops for r in op.results
               if any(user not in members for user in users.get(r, ()))]
    name = f"fused_{ops[0].opname}_{ops[-1].opname}_{number}"
    fusion = Operation("ember.fusion", inputs, [v.type for v in outputs], {"kernel": name},
                       regions=1)
    body = fusion.regions[0].add_block(Block([v.type for v in inputs]))
    inner = dict(zip(inputs, body.arguments))
    for op in ops:
        for v in op.operands:
            if v not in inner:  # a constant, full or iota: clone it once into this kernel
                inner[v] = _clone(v.owner, body, inner).result
        _clone(op, body, inner)
    body.append(Operation("ember.yield", [inner[v] for v in outputs]))
    return fusion, outputs


def _clone(op: Operation, block: Block, mapping: dict[Value, Value]) -> Operation:
    """Append a copy of `op` to `block`, its operands mapped, its results added to `mapping`."""
    copy = Operation(op.name, [mapping[v] for v in op.operands], [r.type for r in op.results],
                     dict(op.attributes))
    block.append(copy)
    mapping.update(zip(op.results, copy.results))
    return copy


def _set_in_dataflow_order(block: Block, ops: list[Operation], key: dict) -> None:
    """Make `ops` the block's operations, producers before users, otherwise closest to `key`.

    A kernel's members were spread over the block; its ember.fusion op must come after every
    producer of its inputs and before every user of its results, which a topological sort of
    the dataflow gives (the terminator, last in `key`, stays last).
    """
    graph = _Digraph(ops)
    graph.add_edges((v.owner, op) for op in ops for v in op.operands
                    if not v.is_block_argument and v.owner in graph)
    block.operations = []
    for op in graph.topological_order(key.get):
        block.append(op)


class _Digraph:
    """A directed graph of hashable nodes, with the few queries fusion needs.

    Plain dicts rather than networkx: importing networkx costs more than a warm-cache compile
    of a whole training step. Neighbours keep insertion order, so plans are deterministic.
    """

    def __init__(self, nodes: Iterable[Hashable]) -> None:
        self._succ: dict[Hashable, dict[Hashable, None]] = {n: {} for n in nodes}
        self._pred: dict[Hashable, dict[Hashable, None]] = {n: {} for n in self._succ}

    def __contains__(self, node: Hashable) -> bool:
        return node in self._succ

    def add_edges(self, edges: Iterable[tuple[Hashable, Hashable]]) -> None:
        for a, b in edges:
            self._succ[a][b] = None
            self._pred[b][a] = None

    def edges(self) -> list[tuple[Hashable, Hashable]]:
        return [(a, b) for a, succ in self._succ.items() for b in succ]

    def successors(self, node: Hashable) -> list[Hashable]:
        return list(self._succ[node])

    def predecessors(self, node: Hashable) -> list[Hashable]:
        return list(self._pred[node])

    def remove_node(self, node: Hashable) -> None:
        for b in self._succ.pop(node):
            del self._pred[b][node]
        for a in self._pred.pop(node):
            del self._succ[a][node]

    def has_path(self, src: Hashable, dst: Hashable) -> bool:
        """Whether `dst` is reachable from `src` (depth-first)."""
        seen, stack = {src}, [src]
        while stack:
            node = stack.pop()
            if node == dst:
                return True
            for succ in self._succ[node]:
                if succ not in seen:
                    seen.add(succ)
                    stack.append(succ)
        return False

    def topological_order(self, key: Callable[[Hashable], int]) -> list[Hashable]:
        """Nodes with producers first, choosing the smallest `key` among the ready ones
        (Kahn's algorithm; keys are distinct, so nodes themselves are never compared)."""
        waiting = {n: len(pred) for n, pred in self._pred.items()}
        ready = [(key(n), n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, node = heapq.heappop(ready)
            order.append(node)
            for succ in self._succ[node]:
                waiting[succ] -= 1
                if not waiting[succ]:
                    heapq.heappush(ready, (key(succ), succ))
        return order
