"""What views of one buffer share: the version counter that in-place operations bump."""


class Storage:
    """Shared state of a tensor and all its views."""

    __slots__ = ("version",)

    def __init__(self) -> None:
        self.version = 0
