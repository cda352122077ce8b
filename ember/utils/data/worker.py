"""Worker processes of a multi-process DataLoader: they fetch and collate; they never choose
which indices make a batch (the main process does), so batches match single-process loading.

Ember tensors refuse ordinary pickling (checkpoints go through `ember.save`); between DataLoader
processes they travel as their NumPy arrays through a reducer registered on multiprocessing's
ForkingPickler only, the way torch.multiprocessing does for its tensors.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ember.frontend.ops.random import manual_seed
from ember.frontend.tensor import Tensor
from ember.utils.data.fetch import IterableFetcher, MapFetcher

# Seconds between checks that the other side of a queue is still alive.
STATUS_CHECK_INTERVAL = 1.0


def _rebuild_tensor(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor._wrap(array, requires_grad)


def _reduce_tensor(t: Tensor):
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError("Cowardly refusing to send a non-leaf tensor which requires_grad "
                           "between processes; detach() it first")
    return _rebuild_tensor, (np.ascontiguousarray(t._data), t.requires_grad)


ForkingPickler.register(Tensor, _reduce_tensor)


@dataclass(frozen=True)
class WorkerInfo:
    """What a DataLoader worker knows about itself (see get_worker_info)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo inside a DataLoader worker process; None in the main process.
    An IterableDataset uses it to give each worker its own shard of the stream."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, where: str) -> None:
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type if _picklable(exc_type) else RuntimeError
        self.message = (f"Caught {exc_type.__name__} {where}.\nOriginal "
                        f"{''.join(traceback.format_exception(exc))}")

    def reraise(self):
        """Raise the worker's exception (same type when it can be rebuilt from a message)."""
        try:
            exc = self.exc_type(self.message)
        except Exception:
            raise RuntimeError(self.message) from None
        raise exc


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class IterableStop:
    """A worker's signal that its copy of an IterableDataset is exhausted."""

    worker_id: int


def encode(data) -> bytes:
    """`data` pickled for the result queue (ember tensors as NumPy arrays)."""
    return bytes(ForkingPickler.dumps(data))


def worker_loop(iterable: bool, dataset, index_queue, result_queue, done_event,
                auto_collation: bool, collate_fn, drop_last: bool, base_seed: int,
                init_fn, worker_id: int, num_workers: int, parent_pid: int) -> None:
    """Serve `(task_idx, request)` messages from index_queue until None or parent death,
    putting `(task_idx, encoded batch | ExceptionWrapper | IterableStop)` on result_queue."""
    global _worker_info
    try:
        seed = base_seed + worker_id
        random.seed(seed)
        manual_seed(seed)
        np.random.seed(seed % (1 << 32))
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = (IterableFetcher(dataset, auto_collation, collate_fn, drop_last)
                       if iterable else MapFetcher(dataset, auto_collation, collate_fn))
        except Exception:
            init_error = ExceptionWrapper(where)
        ended = False
        while True:
            try:
                message = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    break  # the main process died without telling us
                continue
            if message is None:
                break
            if done_event.is_set() or ended:
                continue  # shutting down or exhausted: drain requests until the final None
            task_idx, request = message
            if init_error is not None:
                payload, init_error = init_error, None
            else:
                try:
                    payload = encode(fetcher.fetch(request))
                except Exception as e:
                    if isinstance(e, StopIteration) and iterable:
                        ended = True
                        payload = IterableStop(worker_id)
                    else:
                        payload = ExceptionWrapper(where)
            result_queue.put((task_idx, payload))
    except KeyboardInterrupt:
        pass  # the main process handles the interrupt and shuts the workers down
    if done_event.is_set():
        # Nobody will read what is still buffered; do not block exit on flushing it.
        result_queue.cancel_join_thread()
        result_queue.close()
