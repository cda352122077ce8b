"""The classic two-convolution CNN (PyTorch's MNIST example) on the digits upscaled to 28x28.

Trains with Adadelta and a StepLR schedule, prints loss per epoch and test accuracy, and saves
a checkpoint of the model and optimizer.
"""

import os
import tempfile

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember import datasets, transforms
from ember.optim.lr_scheduler import StepLR
from ember.utils.data import DataLoader


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def main(epochs: int = 4) -> float:
    torch.manual_seed(1)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Resize(28),
                                    transforms.Normalize((0.25,), (0.33,))])
    train_loader = DataLoader(datasets.Digits(train=True, transform=transform), batch_size=64,
                              shuffle=True)
    test_loader = DataLoader(datasets.Digits(train=False, transform=transform), batch_size=500)
    model = Net()
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = 0.0, 0
        for data, target in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            total += loss.item() * target.shape[0]
            count += target.shape[0]
        scheduler.step()
        print(f"epoch {epoch}  loss {total / count:.4f}  lr {scheduler.get_last_lr()[0]:.4f}")
    model.eval()
    correct = seen = 0
    with torch.no_grad():
        for data, target in test_loader:
            correct += (model(data).argmax(dim=1) == target).sum().item()
            seen += target.shape[0]
    accuracy = correct / seen
    print(f"test accuracy {accuracy:.4f}")
    path = os.path.join(tempfile.gettempdir(), "ember_cnn_digits.safetensors")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    print(f"checkpoint saved to {path}")
    return accuracy


if __name__ == "__main__":
    main()
