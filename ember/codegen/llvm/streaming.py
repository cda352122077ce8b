"""Non-temporal stores for loops IR's `memref.store {nontemporal = true}`.

LLVM's loop vectorizer refuses to widen a scalar store marked `!nontemporal` unless the scalar
store alone is aligned like a vector (x86 has no unaligned non-temporal vector store), and a
float's alignment is 4. So the translator marks such stores with an alias scope of their own
instead (`mark`: an `!alias.scope` that no `!noalias` names, so it changes no alias query),
which the vectorizer and the inliner carry over to the vector stores they make, and `apply`
then adds `!nontemporal` to the marked vector stores of the optimised module whose alignment
is a whole vector. The x86 backend emits those as `vmovntps`; where the address is not known
to be a vector's multiple the store stays a plain one.

Non-temporal stores are weakly ordered: a thread that made some must `fence` (x86 `sfence`)
before another thread may read what they wrote (`fence`).
"""

from __future__ import annotations

import re

import llvmlite.binding as llvm
from llvmlite import ir

from ember.codegen.llvm.intrinsics import declare

SCOPE = "ember.nontemporal"
_ELEMENT_BYTES = {"float": 4, "double": 8, "i32": 4, "i64": 8}
_METADATA = re.compile(r"^!(\d+) = (?:distinct )?!\{(.*)\}$", re.M)
_VECTOR_STORE = re.compile(
    r"^(\s*store <(\d+) x (float|double|i32|i64)> [^\n]*?, align (\d+)[^\n]*?"
    r"!alias\.scope !(\d+))([^\n]*)$", re.M)


def mark(store: ir.StoreInstr) -> None:
    """Mark `store` for `apply`: it becomes non-temporal once vectorized and aligned."""
    module = store.parent.parent.module
    # llvmlite gives equal metadata nodes once: every call makes the same scope list
    domain = module.add_metadata([ir.MetaDataString(module, SCOPE + ".domain")])
    scope = module.add_metadata([ir.MetaDataString(module, SCOPE), domain])
    store.set_metadata("alias.scope", module.add_metadata([scope]))


def fence(builder: ir.IRBuilder) -> None:
    """Order this thread's earlier non-temporal stores before its later stores (x86 sfence)."""
    if "x86" in builder.module.triple:
        builder.call(declare(builder.module, "llvm.x86.sse.sfence", ir.VoidType(), []), [])


def apply(module: llvm.ModuleRef) -> llvm.ModuleRef:
    """`module` with `!nontemporal` on its marked, vector-aligned vector stores (a new module
    if there are any, else `module`)."""
    text = str(module)
    if f'!"{SCOPE}"' not in text:
        return module
    nodes = {number: body for number, body in _METADATA.findall(text)}
    (scope,) = [n for n, body in nodes.items() if body.startswith(f'!"{SCOPE}"')]
    lists = {n for n, body in nodes.items()
             if f"!{scope}" in (operand.strip() for operand in body.split(","))}
    hint = max(int(n) for n in nodes) + 1

    changed = []

    def rewrite(match: re.Match) -> str:
        head, lanes, element, align, scopes, tail = match.groups()
        if scopes not in lists or int(align) < int(lanes) * _ELEMENT_BYTES[element]:
            return match.group(0)
        changed.append(match)
        return f"{head}, !nontemporal !{hint}{tail}"

    text = _VECTOR_STORE.sub(rewrite, text)
    if not changed:
        return module
    rewritten = llvm.parse_assembly(f"{text}\n!{hint} = !{{i32 1}}\n")
    rewritten.verify()
    return rewritten
