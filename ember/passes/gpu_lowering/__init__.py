"""The pieces of `map-to-gpu` (`ember.passes.map_to_gpu`): which loops may run in parallel
(`analysis`), kernel outlining and the host side (`outline`), and the ways a loop nest is
spread over threads: a 1-D grid over its parallel iterations (`grid`), one block per row
with block reductions (`rows`), and a float32 matmul's tiles staged in workgroup memory
(`tiles`)."""
