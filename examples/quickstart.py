"""Ember quickstart, written exactly as the PyTorch program would be (`import ember as torch`).

Part 1 fits y = 2x + 1 with autograd and hand-written SGD; part 2 trains an MLP on the 8x8
handwritten digits with nn, optim and DataLoader.
"""

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember import datasets, transforms
from ember.utils.data import DataLoader

torch.manual_seed(0)

# --- Part 1: linear regression by hand -----------------------------------------------------
x = torch.rand(200, 1) * 4 - 2
y = 2 * x + 1 + 0.1 * torch.randn(200, 1)
w = torch.zeros(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)

for step in range(200):
    loss = ((x * w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
    w.grad.zero_()
    b.grad.zero_()
print(f"linear regression: loss {loss.item():.4f}")
print(f"learned weight {w.item():.3f} (true 2), bias {b.item():.3f} (true 1)")

# --- Part 2: an MLP on the handwritten digits ----------------------------------------------
train_set = datasets.Digits(train=True, transform=transforms.ToTensor())
test_set = datasets.Digits(train=False, transform=transforms.ToTensor())
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=256)

model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def accuracy(loader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.shape[0]
    model.train()
    return correct / total


for epoch in range(10):
    total_loss = 0.0
    for images, labels in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * labels.shape[0]
    print(f"mlp epoch {epoch + 1:2d}  loss {total_loss / len(train_set):.4f}")
print(f"mlp test accuracy {accuracy(test_loader):.4f}")
