"""Side-by-side speed benchmarks: Ember (eager and every `ember.jit` backend) against NumPy,
PyTorch eager and `torch.compile`, timed in one process run. Run with `python -m benchmarks`."""
