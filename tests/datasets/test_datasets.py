"""ember.datasets (Digits offline, MNIST/FashionMNIST IDX readers) and ember.transforms."""

import gzip
import os
import struct

import numpy as np
import pytest
import torch

import ember
from ember import datasets, transforms


def test_digits_splits_shapes_and_labels():
    from sklearn.datasets import load_digits

    train = datasets.Digits(train=True, transform=transforms.ToTensor())
    test = datasets.Digits(train=False)
    assert (len(train), len(test)) == (1437, 360)
    image, label = train[0]
    assert image.shape == (1, 8, 8) and image.dtype == ember.float32 and isinstance(label, int)
    assert 0.0 <= image.min().item() and image.max().item() <= 1.0
    raw, _ = test[0]
    assert raw.dtype == np.uint8 and raw.shape == (8, 8)
    # The split is a fixed partition of scikit-learn's digits, labels intact.
    source = load_digits()
    assert sorted(train.targets.tolist() + test.targets.tolist()) == sorted(source.target)
    order = np.random.default_rng(0).permutation(1797)
    np.testing.assert_allclose(train.data[5] / 255.0, source.images[order[5]] / 16.0, atol=2e-3)
    assert train.targets[5].item() == source.target[order[5]]
    again = datasets.Digits(train=True)
    assert np.array_equal(again.data, train.data)


def test_digits_in_a_dataloader_with_transforms():
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Resize(28),
                                   transforms.Normalize((0.5,), (0.25,))])
    ds = datasets.Digits(transform=pipeline, target_transform=transforms.Lambda(lambda y: y % 2))
    images, targets = next(iter(ember.utils.data.DataLoader(ds, batch_size=16)))
    assert images.shape == (16, 1, 28, 28) and targets.dtype == ember.int64
    assert set(targets.tolist()) <= {0, 1}


def write_idx(path, array, compress):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("cls", [datasets.MNIST, datasets.FashionMNIST])
@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reads_idx_files(tmp_path, cls, compress):
    raw = tmp_path / cls.__name__ / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for split, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(raw / f"{split}-labels-idx1-ubyte{suffix}", labels, compress)
        ds = cls(tmp_path, train=split == "train")
        assert len(ds) == n and np.array_equal(ds.data, images)
        assert ds.targets.tolist() == labels.tolist() and ds.targets.dtype == ember.int64
        image, label = ds[1]
        assert image.dtype == np.uint8 and image.shape == (28, 28) and label == labels[1]
        tensor = cls(tmp_path, train=split == "train", transform=transforms.ToTensor())[1][0]
        np.testing.assert_allclose(tensor.numpy(), images[1][None] / 255.0, rtol=1e-6)
    assert len(cls.classes) == 10


def test_mnist_missing_files_and_download(tmp_path):
    raw = os.path.join(str(tmp_path), "MNIST", "raw")
    with pytest.raises(RuntimeError, match="not found") as info:
        datasets.MNIST(tmp_path)
    assert raw in str(info.value) and "train-images-idx3-ubyte" in str(info.value)
    with pytest.raises(RuntimeError, match="no network") as info:
        datasets.FashionMNIST(tmp_path, train=False, download=True)
    assert os.path.join(str(tmp_path), "FashionMNIST", "raw") in str(info.value)
    assert "t10k-labels-idx1-ubyte" in str(info.value)


def test_mnist_rejects_damaged_idx(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", np.zeros((2, 4, 4), np.uint8), False)
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01")
    with pytest.raises(RuntimeError, match="train-labels-idx1-ubyte.*implies"):
        datasets.MNIST(tmp_path)
    (raw / "train-labels-idx1-ubyte").write_bytes(b"garbage!")
    with pytest.raises(RuntimeError, match="not an IDX file"):
        datasets.MNIST(tmp_path)


def test_transforms_match_torch():
    image = np.random.default_rng(1).integers(0, 256, (5, 6, 3)).astype(np.uint8)
    x = transforms.ToTensor()(image)
    expected = torch.tensor(image).permute(2, 0, 1).float() / 255
    np.testing.assert_allclose(x.numpy(), expected.numpy(), rtol=1e-6)
    assert transforms.ToTensor()(image[:, :, 0]).shape == (1, 5, 6)
    assert transforms.ToTensor()(np.ones((2, 2), np.float64)).dtype == ember.float64
    norm = transforms.Normalize([0.1, 0.2, 0.3], [0.5, 0.25, 2.0])(x)
    mean = torch.tensor([0.1, 0.2, 0.3]).reshape(3, 1, 1)
    std = torch.tensor([0.5, 0.25, 2.0]).reshape(3, 1, 1)
    np.testing.assert_allclose(norm.numpy(), ((expected - mean) / std).numpy(), rtol=1e-5)
    for size, mode in (((28, 28), "bilinear"), (9, "bilinear"), ((3, 11), "nearest")):
        ours = transforms.Resize(size, mode)(x)
        out_size = size if isinstance(size, tuple) else (size, int(size * 6 / 5))
        theirs = torch.nn.functional.interpolate(expected[None], size=out_size, mode=mode,
                                                 **({"align_corners": False}
                                                    if mode == "bilinear" else {}))[0]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)


def test_transform_errors():
    with pytest.raises(TypeError, match="ndarray"):
        transforms.ToTensor()([[1, 2]])
    with pytest.raises(ValueError, match="2/3 dimensional"):
        transforms.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        transforms.Normalize([0.0], [0.0])(ember.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="float tensor"):
        transforms.Normalize([0.0], [1.0])(ember.zeros(1, 2, 2, dtype=ember.int64))
    with pytest.raises(TypeError, match="ToTensor first"):
        transforms.Resize(4)(np.zeros((2, 2), np.uint8))
