"""ember.utils.data against torch.utils.data: datasets, samplers, collation and DataLoader."""

import collections
import os
import signal

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
from ember.utils import data as edata

Point = collections.namedtuple("Point", ["x", "y"])


@pytest.fixture(autouse=True)
def _deadline():
    """Fail, rather than hang, a test whose worker processes never answer."""
    def on_alarm(signum, frame):
        raise TimeoutError("test took longer than 30 s (DataLoader hang?)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def to_py(x):
    """A batch as plain Python (type names kept) so Ember and PyTorch batches compare."""
    if isinstance(x, (ember.Tensor, torch.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: to_py(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [to_py(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [to_py(v) for v in x])
    return x


class Samples(edata.Dataset):
    """Structured samples of every collatable kind; the same class serves both libraries."""

    def __init__(self, n=10, lib=ember):
        self.n, self.lib = n, lib

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        lib = self.lib
        return {"t": lib.full((2, 3), float(i)), "i": lib.tensor([i, -i]),
                "np": np.arange(4, dtype=np.float32) * i, "np_u8": np.full(2, i, np.uint8),
                "np_scalar": np.float32(i) / 2, "f": i / 4, "n": i, "b": i % 2 == 0,
                "s": f"s{i}", "pair": (i, float(i)), "list": [lib.tensor(i), i],
                "point": Point(i, lib.tensor(float(i)))}


class TorchSamples(Samples, tdata.Dataset):
    pass


class Stream(edata.IterableDataset):
    """0 .. n-1, sharded across workers by stride."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        info = edata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class TorchStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tdata.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def tensors(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return (edata.TensorDataset(ember.tensor(x), ember.tensor(y)),
            tdata.TensorDataset(torch.tensor(x), torch.tensor(y)))


# --- collation ------------------------------------------------------------------------------


def test_default_collate_matches_torch_structure_and_dtypes():
    ours = edata.default_collate([Samples()[i] for i in range(3)])
    theirs = tdata.default_collate([TorchSamples(lib=torch)[i] for i in range(3)])
    u8 = ours.pop("np_u8")
    theirs_u8 = theirs.pop("np_u8")
    assert to_py(ours) == to_py(theirs)
    # Ember has no uint8: the values survive, widened to int32.
    assert u8.dtype == ember.int32 and u8.tolist() == theirs_u8.tolist()


def test_default_convert_and_errors():
    sample = {"a": np.ones(2, np.float64), "b": (np.int64(3), "x"), "c": Point(np.zeros(1), 2)}
    assert to_py(edata.default_convert(sample)) == to_py(tdata.default_convert(sample))
    with pytest.raises(TypeError, match="found"):
        edata.default_collate([object(), object()])
    with pytest.raises(TypeError, match="found"):
        edata.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="equal size"):
        edata.default_collate([[1, 2], [1]])


# --- datasets -------------------------------------------------------------------------------


def test_tensor_concat_subset():
    ds, tds = tensors(6)
    assert len(ds) == 6 and ds[2][1].item() == 2
    with pytest.raises(ValueError, match="mismatch"):
        edata.TensorDataset(ember.zeros(3), ember.zeros(4))
    cat = ds + edata.Subset(ds, [5, 0])
    assert len(cat) == 8 and cat.cumulative_sizes == [6, 8]
    assert cat[6][1].item() == 5 and cat[-1][1].item() == 0
    with pytest.raises(ValueError, match="exceed"):
        cat[-9]
    with pytest.raises(TypeError, match="IterableDataset"):
        edata.ConcatDataset([ds, Stream(3)])
    assert list(Stream(2) + Stream(3)) == [0, 1, 0, 1, 2]


def test_random_split_lengths_and_fractions():
    ds, _ = tensors(10)
    parts = edata.random_split(ds, [3, 7], generator=ember.Generator(1))
    again = edata.random_split(ds, [3, 7], generator=ember.Generator(1))
    assert [len(p) for p in parts] == [3, 7]
    assert parts[0].indices == again[0].indices
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    # Fractions floor, then the remainder goes round-robin, as in torch.
    ours = [len(p) for p in edata.random_split(range(11), [0.3, 0.3, 0.4])]
    theirs = [len(p) for p in tdata.random_split(range(11), [0.3, 0.3, 0.4])]
    assert ours == theirs
    with pytest.raises(ValueError, match="Sum of input lengths"):
        edata.random_split(ds, [3, 3])


# --- samplers -------------------------------------------------------------------------------


def test_samplers():
    assert list(edata.SequentialSampler(range(4))) == [0, 1, 2, 3]
    perm = list(edata.RandomSampler(range(20), generator=ember.Generator(3)))
    assert sorted(perm) == list(range(20)) and perm != list(range(20))
    assert perm == list(edata.RandomSampler(range(20), generator=ember.Generator(3)))
    draws = list(edata.RandomSampler(range(5), replacement=True, num_samples=70,
                                     generator=ember.Generator(0)))
    assert len(draws) == 70 and set(draws) <= set(range(5))
    assert len(list(edata.RandomSampler(range(4), num_samples=10))) == 10
    sub = list(edata.SubsetRandomSampler([10, 20, 30], generator=ember.Generator(0)))
    assert sorted(sub) == [10, 20, 30]
    for drop in (False, True):
        ours = edata.BatchSampler(range(10), 4, drop)
        theirs = tdata.BatchSampler(range(10), 4, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match="batch_size"):
        edata.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="num_samples"):
        edata.RandomSampler(range(3), num_samples=0)


def test_random_sampler_follows_manual_seed():
    ember.manual_seed(5)
    a = list(edata.RandomSampler(range(12)))
    b = list(edata.RandomSampler(range(12)))
    ember.manual_seed(5)
    assert list(edata.RandomSampler(range(12))) == a and a != b


# --- DataLoader -----------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (10, True)])
def test_sequential_batches_match_torch(batch_size, drop_last):
    ds, tds = tensors(10)
    ours = edata.DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(tds, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [to_py(b) for b in ours] == [to_py(b) for b in theirs]


def test_structured_batches_match_torch():
    ours = edata.DataLoader(Samples(7), batch_size=3)
    theirs = tdata.DataLoader(TorchSamples(7, lib=torch), batch_size=3)
    for a, b in zip(ours, theirs, strict=True):
        a.pop("np_u8"), b.pop("np_u8")
        assert to_py(a) == to_py(b)


def test_no_auto_batching_and_batch_sampler_match_torch():
    ds, tds = tensors(5)
    assert ([to_py(b) for b in edata.DataLoader(ds, batch_size=None)]
            == [to_py(b) for b in tdata.DataLoader(tds, batch_size=None)])
    batches = [[4, 0], [1, 2, 3]]
    ours = edata.DataLoader(ds, batch_sampler=batches)
    theirs = tdata.DataLoader(tds, batch_sampler=batches)
    assert len(ours) == 2 and [to_py(b) for b in ours] == [to_py(b) for b in theirs]
    custom = edata.DataLoader(ds, batch_size=2, collate_fn=len)
    assert list(custom) == [2, 2, 1]


def test_shuffle_is_seeded_and_covers_everything():
    ds, _ = tensors(10)

    def epoch(loader):
        return [i for _, y in loader for i in y.tolist()]

    loader = edata.DataLoader(ds, batch_size=4, shuffle=True, generator=ember.Generator(7))
    first, second = epoch(loader), epoch(loader)
    assert sorted(first) == list(range(10)) and first != second
    again = edata.DataLoader(ds, batch_size=4, shuffle=True, generator=ember.Generator(7))
    assert epoch(again) == first
    ember.manual_seed(0)
    a = epoch(edata.DataLoader(ds, batch_size=4, shuffle=True))
    ember.manual_seed(0)
    assert epoch(edata.DataLoader(ds, batch_size=4, shuffle=True)) == a


def test_iterable_dataset_matches_torch():
    for kwargs in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                   {"batch_size": None}):
        ours = edata.DataLoader(Stream(8), **kwargs)
        theirs = tdata.DataLoader(TorchStream(8), **kwargs)
        assert [to_py(b) for b in ours] == [to_py(b) for b in theirs]
    assert len(edata.DataLoader(Stream(8), batch_size=3)) == 3
    assert len(edata.DataLoader(Stream(8), batch_size=3, drop_last=True)) == 2


def test_argument_errors():
    ds, _ = tensors(4)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        edata.DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        edata.DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="drop_last"):
        edata.DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="shuffle"):
        edata.DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="num_workers"):
        edata.DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        edata.DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        edata.DataLoader(ds, persistent_workers=True)
    loader = edata.DataLoader(ds)
    with pytest.raises(ValueError, match="should not be set"):
        loader.batch_size = 3


# --- worker processes -----------------------------------------------------------------------


def collect(loader):
    return [to_py(b) for b in loader]


def test_workers_give_the_same_batches_as_the_main_process():
    ds = Samples(23)
    results = []
    for workers in (0, 2, 3):
        loader = edata.DataLoader(ds, batch_size=4, shuffle=True, num_workers=workers,
                                  generator=ember.Generator(11))
        results.append((collect(loader), collect(loader)))
    assert results[0] == results[1] == results[2]
    assert results[0][0] != results[0][1]  # a new order each epoch
    ember.manual_seed(3)
    plain = collect(edata.DataLoader(ds, batch_size=5, shuffle=True))
    ember.manual_seed(3)
    assert collect(edata.DataLoader(ds, batch_size=5, shuffle=True, num_workers=2)) == plain


def test_workers_with_iterable_dataset_match_torch():
    for kwargs in ({"batch_size": 3}, {"batch_size": None}, {"batch_size": 2, "drop_last": True}):
        ours = collect(edata.DataLoader(Stream(9), num_workers=2, **kwargs))
        theirs = collect(tdata.DataLoader(TorchStream(9), num_workers=2, **kwargs))
        assert ours == theirs


def _record_worker(worker_id):
    info = edata.get_worker_info()
    os.environ["EMBER_TEST_WORKER"] = f"{worker_id}/{info.num_workers}"


class WorkerView(edata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return os.environ.get("EMBER_TEST_WORKER", "main"), edata.get_worker_info().id


def test_worker_init_fn_and_worker_info():
    loader = edata.DataLoader(WorkerView(), batch_size=2, num_workers=2,
                              worker_init_fn=_record_worker)
    batches = list(loader)
    assert [list(b[0]) for b in batches] == [["0/2", "0/2"], ["1/2", "1/2"], ["0/2", "0/2"]]
    assert edata.get_worker_info() is None


class Failing(edata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"no sample {i}")
        return i


def test_worker_errors_reach_the_main_process():
    loader = edata.DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0"):
        next(it)


class Dying(edata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        os._exit(1)


def test_dead_worker_is_reported_not_hung():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(edata.DataLoader(Dying(), num_workers=1))


def test_early_exit_shuts_workers_down():
    ds, _ = tensors(40)
    it = iter(edata.DataLoader(ds, batch_size=2, num_workers=2))
    next(it)
    workers = list(it._workers)
    it._shutdown()
    assert not any(w.is_alive() for w in workers)
    assert list(it) == []
