"""`ember.cuda`: GPU availability (no CUDA runtime exists yet, so none is ever available)."""


def is_available() -> bool:
    """Whether a CUDA device can be used."""
    return False


def device_count() -> int:
    """How many CUDA devices can be used."""
    return 0
