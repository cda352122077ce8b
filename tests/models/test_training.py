"""End-to-end training: small models learn their tasks to a threshold, eagerly."""

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember import datasets, transforms
from ember.utils.data import DataLoader


def _accuracy(model, loader) -> float:
    model.eval()
    correct = total = 0
    with ember.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.shape[0]
    return correct / total


def test_mlp_learns_digits():
    ember.manual_seed(0)
    train = DataLoader(datasets.Digits(train=True, transform=transforms.ToTensor()), batch_size=32, shuffle=True)
    test = DataLoader(datasets.Digits(train=False, transform=transforms.ToTensor()), batch_size=512)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        for x, y in train:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    assert _accuracy(model, test) >= 0.9


def test_small_cnn_learns_digits():
    ember.manual_seed(0)
    train = DataLoader(datasets.Digits(train=True, transform=transforms.ToTensor()), batch_size=32, shuffle=True)
    test = DataLoader(datasets.Digits(train=False, transform=transforms.ToTensor()), batch_size=512)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        model.train()
        for x, y in train:
            optimizer.zero_grad()
            F.nll_loss(F.log_softmax(model(x), dim=1), y).backward()
            optimizer.step()
    assert _accuracy(model, test) >= 0.9
