"""A process-wide pool of worker threads for generated code, itself generated with llvmlite.

Kernels split a loop into parts and call `void ember_parallel_run(ptr task, ptr frame, i64
parts)`, which runs `task(frame, part)` for every part in [0, parts) and returns when all are
done. The caller runs parts too; the pool's workers claim the others.

Why a pool: creating and joining a thread per parallel loop costs ~45 µs, and on a virtual
machine an idle core can take far longer to wake, so a 0.5 ms kernel ran anywhere between 0.4
and 1.2 ms. A worker instead spins (with `pause`) for a while after each job, where the next
job finds it at once; only after `SPIN_LIMIT` idle polls does it sleep on a futex (Linux), and
a job wakes sleepers.

Protocol (all shared state is in globals of the runtime module):
- `@work` is one i64: the job's generation in the high 32 bits and the next unclaimed part in
  the low 32. A part is claimed with a compare-and-swap that also checks the generation, so a
  worker that saw an old job can never claim a part of a newer one.
- `@generation` (i32) is what idle workers watch and sleep on; the dispatcher stores the job
  (task, frame, parts), resets `@work`, then bumps `@generation`.
- `@done` counts finished parts; the dispatcher returns once it reaches `parts`.
- `@busy` admits one dispatcher at a time; a second (another thread, or a fork child) runs its
  parts itself, so no call waits on another. After a fork the child has no workers: the pool
  remembers the pid that started them and starts new ones in a new process.
If no worker thread can be created, every part runs on the caller: results never depend on it.
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm
from llvmlite import ir

from ember.codegen.llvm.control import I64, for_range, i64
from ember.codegen.llvm.intrinsics import declare

ENTRY = "ember_parallel_run"
# Idle polls before a worker sleeps: about a millisecond, longer than the Python-side gap
# between the kernels of one step, so back-to-back calls never wait for a wake-up.
SPIN_LIMIT = 1 << 15

_PTR = ir.PointerType()
_I32 = ir.IntType(32)
_VOID = ir.VoidType()
_TASK = ir.FunctionType(_VOID, [_PTR, I64])
_SYS_FUTEX, _FUTEX_WAIT_PRIVATE, _FUTEX_WAKE_PRIVATE = 202, 128, 129
_ORDER = "seq_cst"


def _global(module: ir.Module, name: str, ty: ir.Type) -> ir.GlobalVariable:
    var = ir.GlobalVariable(module, ty, name)
    var.linkage = "internal"
    var.initializer = ir.Constant(ty, None)
    var.align = 64  # each on its own cache line: workers poll them
    return var


class _Runtime:
    """The globals and C functions the pool's functions share."""

    def __init__(self, module: ir.Module, workers: int) -> None:
        self.module = module
        self.workers = workers
        self.work = _global(module, "work", I64)
        self.generation = _global(module, "generation", _I32)
        self.done = _global(module, "done", I64)
        self.busy = _global(module, "busy", _I32)
        self.sleepers = _global(module, "sleepers", _I32)
        self.pool_pid = _global(module, "pool_pid", _I32)
        self.task = _global(module, "task", _PTR)
        self.frame = _global(module, "frame", _PTR)
        self.parts = _global(module, "parts", I64)
        self.syscall = ir.Function(module, ir.FunctionType(I64, [I64], var_arg=True),
                                   name="syscall")

    @staticmethod
    def load(b: ir.IRBuilder, var: ir.GlobalVariable) -> ir.Value:
        """An atomic load of an integer global."""
        return b.load_atomic(var, _ORDER, var.value_type.width // 8, typ=var.value_type)

    def pause(self, b: ir.IRBuilder) -> None:
        """A spin-wait hint (x86 `pause`), so a spinning thread yields its core's resources."""
        if "x86" in llvm.get_process_triple():
            b.call(declare(self.module, "llvm.x86.sse2.pause", _VOID, []), [])

    def claim_and_run(self, b: ir.IRBuilder, generation: ir.Value) -> None:
        """Claim parts of job `generation` one by one and run them, until none is left."""
        fn = b.function
        claim = fn.append_basic_block("claim")
        run = fn.append_basic_block("run")
        finished = fn.append_basic_block("finished")
        frame = b.load(self.frame, typ=_PTR)
        parts = b.load(self.parts, typ=I64)
        b.branch(claim)
        b.position_at_end(claim)
        word = self.load(b, self.work)
        same_job = b.icmp_unsigned("==", b.lshr(word, i64(32)), b.zext(generation, I64))
        part = b.and_(word, i64(0xFFFFFFFF))
        available = b.and_(same_job, b.icmp_signed("<", part, parts))
        try_claim = fn.append_basic_block("try_claim")
        b.cbranch(available, try_claim, finished)
        b.position_at_end(try_claim)
        swapped = b.cmpxchg(self.work, word, b.add(word, i64(1)), _ORDER, _ORDER)
        b.cbranch(b.extract_value(swapped, 1), run, claim)
        b.position_at_end(run)
        _call_task(b, self.task, frame, part)
        b.atomic_rmw("add", self.done, i64(1), _ORDER)
        b.branch(claim)
        b.position_at_end(finished)


class _TaskPointer(ir.LoadInstr):
    """A loaded task pointer: llvmlite reads a callee's signature off its pointer type, which
    an opaque `ptr` does not carry."""

    function_type = _TASK


def _call_task(b: ir.IRBuilder, slot: ir.Value, frame: ir.Value, part: ir.Value) -> None:
    """Call the task whose pointer is stored at `slot`."""
    callee = b.load(slot, typ=_PTR)
    callee.__class__ = _TaskPointer
    b.call(callee, [frame, part])


def _worker_main(rt: _Runtime) -> ir.Function:
    """`ptr worker(ptr)`: wait for a new generation, help with its job, forever."""
    fn = ir.Function(rt.module, ir.FunctionType(_PTR, [_PTR]), name="worker")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    seen = b.alloca(_I32)
    b.store(rt.load(b, rt.generation), seen)
    wait = fn.append_basic_block("wait")
    b.branch(wait)
    b.position_at_end(wait)
    spins = b.phi(I64)
    spins.add_incoming(i64(0), fn.entry_basic_block)
    current = rt.load(b, rt.generation)
    new_job = b.icmp_unsigned("!=", current, b.load(seen, typ=_I32))
    job = fn.append_basic_block("job")
    idle = fn.append_basic_block("idle")
    b.cbranch(new_job, job, idle)

    b.position_at_end(idle)
    spin = fn.append_basic_block("spin")
    sleep = fn.append_basic_block("sleep")
    b.cbranch(b.icmp_unsigned("<", spins, i64(SPIN_LIMIT)), spin, sleep)
    b.position_at_end(spin)
    rt.pause(b)
    spins.add_incoming(b.add(spins, i64(1)), spin)
    b.branch(wait)
    b.position_at_end(sleep)
    b.atomic_rmw("add", rt.sleepers, ir.Constant(_I32, 1), _ORDER)
    # futex_wait returns at once if the generation moved on since `seen` was read.
    b.call(rt.syscall, [i64(_SYS_FUTEX), rt.generation, ir.Constant(_I32, _FUTEX_WAIT_PRIVATE),
                        b.load(seen, typ=_I32), ir.Constant(_PTR, None)])
    b.atomic_rmw("sub", rt.sleepers, ir.Constant(_I32, 1), _ORDER)
    spins.add_incoming(i64(0), b.block)
    b.branch(wait)

    b.position_at_end(job)
    b.store(current, seen)
    rt.claim_and_run(b, current)
    spins.add_incoming(i64(0), b.block)
    b.branch(wait)
    return fn


def _start_workers(rt: _Runtime, worker: ir.Function) -> ir.Function:
    """`i1 start()`: make sure this process has its workers; false if none could be started."""
    fn = ir.Function(rt.module, ir.FunctionType(ir.IntType(1), []), name="start")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    getpid = declare(rt.module, "getpid", _I32, [])
    create = declare(rt.module, "pthread_create", _I32, [_PTR, _PTR, _PTR, _PTR])
    detach = declare(rt.module, "pthread_detach", _I32, [I64])
    pid = b.call(getpid, [])
    started = b.icmp_signed("==", b.load(rt.pool_pid, typ=_I32), pid)
    with b.if_then(b.not_(started)):
        thread = b.alloca(I64)
        ok = b.alloca(ir.IntType(1))
        b.store(ir.Constant(ir.IntType(1), 0), ok)
        with for_range(b, i64(0), i64(rt.workers), name="spawn"):
            status = b.call(create, [thread, ir.Constant(_PTR, None), worker,
                                     ir.Constant(_PTR, None)])
            with b.if_then(b.icmp_signed("==", status, ir.Constant(_I32, 0))):
                b.call(detach, [b.load(thread, typ=I64)])
                b.store(ir.Constant(ir.IntType(1), 1), ok)
        with b.if_then(b.load(ok, typ=ir.IntType(1))):
            b.store(pid, rt.pool_pid)
    b.ret(b.icmp_signed("==", b.load(rt.pool_pid, typ=_I32), pid))
    return fn


def _dispatch(rt: _Runtime, start: ir.Function) -> ir.Function:
    """`void ember_parallel_run(ptr task, ptr frame, i64 parts)` (see the module docstring)."""
    fn = ir.Function(rt.module, ir.FunctionType(_VOID, [_PTR, _PTR, I64]), name=ENTRY)
    task, frame, parts = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    inline = fn.append_basic_block("inline")
    locked = fn.append_basic_block("locked")
    pooled = fn.append_basic_block("pooled")
    unlock = fn.append_basic_block("unlock")
    no_workers = fn.append_basic_block("no_workers")
    lock = b.cmpxchg(rt.busy, ir.Constant(_I32, 0), ir.Constant(_I32, 1), _ORDER, _ORDER)
    b.cbranch(b.extract_value(lock, 1), locked, inline)

    b.position_at_end(locked)
    b.cbranch(b.call(start, []), pooled, no_workers)

    b.position_at_end(no_workers)
    b.store_atomic(ir.Constant(_I32, 0), rt.busy, _ORDER, 4)
    b.branch(inline)

    b.position_at_end(pooled)
    b.store(task, rt.task)
    b.store(frame, rt.frame)
    b.store(parts, rt.parts)
    b.store_atomic(i64(0), rt.done, _ORDER, 8)
    generation = b.add(b.load(rt.generation, typ=_I32), ir.Constant(_I32, 1))
    b.store_atomic(b.shl(b.zext(generation, I64), i64(32)), rt.work, _ORDER, 8)
    b.store_atomic(generation, rt.generation, _ORDER, 4)
    with b.if_then(b.icmp_signed(">", rt.load(b, rt.sleepers), ir.Constant(_I32, 0))):
        b.call(rt.syscall, [i64(_SYS_FUTEX), rt.generation,
                            ir.Constant(_I32, _FUTEX_WAKE_PRIVATE),
                            ir.Constant(_I32, 0x7FFFFFFF)])
    rt.claim_and_run(b, generation)
    waiting = fn.append_basic_block("waiting")
    b.branch(waiting)
    b.position_at_end(waiting)
    all_done = b.icmp_signed(">=", rt.load(b, rt.done), parts)
    spin = fn.append_basic_block("spin")
    b.cbranch(all_done, unlock, spin)
    b.position_at_end(spin)
    rt.pause(b)
    b.branch(waiting)

    b.position_at_end(unlock)
    b.store_atomic(ir.Constant(_I32, 0), rt.busy, _ORDER, 4)
    b.ret_void()

    b.position_at_end(inline)
    slot = b.alloca(_PTR)
    b.store(task, slot)
    with for_range(b, i64(0), parts, name="part") as part:
        _call_task(b, slot, frame, part)
    b.ret_void()
    return fn


def runtime_module(workers: int) -> ir.Module:
    """The pool's LLVM module, for `workers` threads besides the caller."""
    module = ir.Module(name="ember_thread_pool")
    module.triple = llvm.get_process_triple()
    rt = _Runtime(module, workers)
    _dispatch(rt, _start_workers(rt, _worker_main(rt)))
    return module


@functools.cache
def install(workers: int) -> llvm.ExecutionEngine:
    """Compile the pool and make `ember_parallel_run` resolvable by the kernels loaded after
    this; the engine, returned and cached, owns the code and lives as long as the process."""
    from ember.codegen.llvm import target

    module = target.parse(str(runtime_module(workers)))
    target.optimize(module)
    engine = target.load_object(target.emit_object(module))
    llvm.add_symbol(ENTRY, engine.get_function_address(ENTRY))
    return engine
