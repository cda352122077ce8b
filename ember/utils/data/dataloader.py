"""DataLoader: batches from a dataset, in the main process or in worker processes."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import pickle
import queue
from typing import Callable, Iterator

from ember.frontend.ops.random import Generator
from ember.utils.data.collate import default_collate, default_convert
from ember.utils.data.dataset import Dataset, IterableDataset
from ember.utils.data.fetch import IterableFetcher, MapFetcher
from ember.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                      random_seed)
from ember.utils.data.worker import (STATUS_CHECK_INTERVAL, ExceptionWrapper, IterableStop,
                                     worker_loop)

# Seconds a worker gets to exit after the stop signal before it is terminated.
_JOIN_TIMEOUT = 5.0
_FROZEN_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                      "persistent_workers")


class _InfiniteRequests(Sampler):
    """An IterableDataset's index sampler: endless requests for `batch_size` samples (a list of
    Nones) or, without auto-batching, for one sample (None)."""

    def __init__(self, batch_size: int | None) -> None:
        self.batch_size = batch_size

    def __iter__(self):
        request = None if self.batch_size is None else [None] * self.batch_size
        return itertools.repeat(request)


class DataLoader:
    """Iterate over `dataset` in batches, like torch.utils.data.DataLoader.

    With `num_workers > 0`, worker processes fetch and collate while the main process decides
    which indices form each batch, so the batches and their order are the same as with
    `num_workers=0` for the same seed. Differences from PyTorch: `pin_memory` is accepted and
    ignored (Ember has no pinned host memory), and `persistent_workers` is accepted but workers
    are started afresh for every epoch.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | None = None, batch_sampler: Sampler | None = None,
                 num_workers: int = 0, collate_fn: Callable | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context=None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "") -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"prefetch_factor option should be positive, got {prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if collate_fn is None:
            auto = batch_size is not None or batch_sampler is not None
            collate_fn = default_collate if auto else default_convert
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._initialized = True

    def __setattr__(self, name, value) -> None:
        if getattr(self, "_initialized", False) and name in _FROZEN_AFTER_INIT:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _iterable(self) -> bool:
        return isinstance(self.dataset, IterableDataset)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        """What the main process iterates: one item per batch (or per sample without batching)."""
        if self._iterable:
            return _InfiniteRequests(self.batch_size)
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> "_BaseIter":
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        return _MultiProcessIter(self)

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)  # TypeError when the stream has no length
            if self.batch_size is not None:
                return length // self.batch_size if self.drop_last else math.ceil(
                    length / self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseIter:
    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._requests = iter(loader._index_sampler)
        # Drawn for every epoch, as PyTorch does, so the generator advances identically
        # whatever num_workers is; workers seed themselves from it.
        self._base_seed = random_seed(loader.generator)

    def __iter__(self) -> Iterator:
        return self

    def __len__(self) -> int:
        return len(self._loader)


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        if loader._iterable:
            self._fetcher = IterableFetcher(loader.dataset, loader._auto_collation,
                                            loader.collate_fn, loader.drop_last)
        else:
            self._fetcher = MapFetcher(loader.dataset, loader._auto_collation, loader.collate_fn)

    def __next__(self):
        return self._fetcher.fetch(next(self._requests))


class _MultiProcessIter(_BaseIter):
    """Keeps `prefetch_factor * num_workers` requests in flight, round-robin over the workers,
    and returns results strictly in request order."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._shut_down = True  # until the workers exist, there is nothing to shut down
        context = loader.multiprocessing_context
        if context is None or isinstance(context, str):
            context = multiprocessing.get_context(context)
        n = loader.num_workers
        self._result_queue = context.Queue()
        self._done_event = context.Event()
        self._index_queues = []
        self._workers = []
        self._shut_down = False
        for worker_id in range(n):
            index_queue = context.Queue()
            # The main process never waits to flush requests nobody will read.
            index_queue.cancel_join_thread()
            worker = context.Process(
                target=worker_loop, daemon=True,
                args=(loader._iterable, loader.dataset, index_queue, self._result_queue,
                      self._done_event, loader._auto_collation, loader.collate_fn,
                      loader.drop_last, self._base_seed, loader.worker_init_fn, worker_id, n,
                      os.getpid()))
            worker.start()
            self._index_queues.append(index_queue)
            self._workers.append(worker)
        self._active = [True] * n
        self._next_worker = itertools.cycle(range(n))
        self._send_idx = 0
        self._rcvd_idx = 0
        # task index -> [worker id] while in flight, [worker id, payload] once received early
        self._tasks: dict[int, list] = {}
        for _ in range(loader.prefetch_factor * n):
            self._try_put_request()

    def _try_put_request(self) -> None:
        if not any(self._active):
            return
        try:
            request = next(self._requests)
        except StopIteration:
            return
        worker_id = next(w for w in self._next_worker if self._active[w])
        self._index_queues[worker_id].put((self._send_idx, request))
        self._tasks[self._send_idx] = [worker_id]
        self._send_idx += 1

    def __next__(self):
        if self._shut_down:
            raise StopIteration
        while True:
            # Skip requests that went to iterable workers which have since run dry.
            while self._rcvd_idx < self._send_idx:
                task = self._tasks[self._rcvd_idx]
                if len(task) == 2 or self._active[task[0]]:
                    break
                del self._tasks[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                self._shutdown()
                raise StopIteration
            task = self._tasks[self._rcvd_idx]
            if len(task) == 2:
                del self._tasks[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._deliver(task[1])
            idx, payload = self._get_result()
            if isinstance(payload, IterableStop):
                self._retire(payload.worker_id)
                self._try_put_request()
                continue
            if idx != self._rcvd_idx:
                self._tasks[idx].append(payload)
                continue
            del self._tasks[idx]
            self._rcvd_idx += 1
            return self._deliver(payload)

    def _deliver(self, payload):
        self._try_put_request()
        if isinstance(payload, ExceptionWrapper):
            payload.reraise()
        return pickle.loads(payload)

    def _retire(self, worker_id: int) -> None:
        """Stop an iterable worker whose stream has ended."""
        self._active[worker_id] = False
        self._index_queues[worker_id].put(None)

    def _get_result(self):
        """The next (task index, payload) from any worker, failing rather than hanging when a
        worker died or the loader's timeout passed."""
        timeout = self._loader.timeout
        waited = 0.0
        while True:
            interval = STATUS_CHECK_INTERVAL if timeout <= 0 else min(STATUS_CHECK_INTERVAL,
                                                                      timeout - waited)
            try:
                return self._result_queue.get(timeout=interval)
            except queue.Empty:
                waited += interval
            dead = [w.pid for w, active in zip(self._workers, self._active)
                    if active and not w.is_alive()]
            if dead:
                self._shutdown()
                raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(map(str, dead))}) "
                                   f"exited unexpectedly")
            if 0 < timeout <= waited:
                self._shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def _shutdown(self) -> None:
        """Stop every worker: signal, wait briefly, then terminate stragglers."""
        if self._shut_down:
            return
        self._shut_down = True
        self._done_event.set()
        for index_queue, worker in zip(self._index_queues, self._workers):
            if worker.is_alive():
                index_queue.put(None)
        for worker in self._workers:
            worker.join(_JOIN_TIMEOUT)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for index_queue in self._index_queues:
            index_queue.close()
        self._result_queue.cancel_join_thread()
        self._result_queue.close()

    def __del__(self) -> None:
        if getattr(self, "_shut_down", True) is False:
            self._shutdown()
