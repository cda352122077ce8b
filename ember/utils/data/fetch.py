"""Fetchers: turn one request from the index sampler into one (collated) batch."""

from __future__ import annotations

from typing import Callable


class MapFetcher:
    """Batches from a map-style dataset: `collate_fn([dataset[i] for i in indices])`."""

    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def fetch(self, index):
        """The batch for a list of indices (or the converted sample for one index)."""
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.collate_fn(self.dataset.__getitems__(index))
        return self.collate_fn([self.dataset[i] for i in index])


class IterableFetcher:
    """Batches from an iterable dataset: the next `len(request)` samples of its stream."""

    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, request):
        """The next batch; StopIteration when the stream is exhausted (or only a short batch is
        left under drop_last)."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        samples = []
        for _ in range(len(request)):
            try:
                samples.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not samples or (self.drop_last and len(samples) < len(request)):
            raise StopIteration
        return self.collate_fn(samples)
