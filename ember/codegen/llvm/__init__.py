"""LLVM pieces of the CPU backend: translation of loops IR (`translate`), LLVM intrinsics
(`intrinsics`) and the host target, optimiser and JIT (`target`)."""
