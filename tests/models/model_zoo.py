"""The model zoo of the test suite: five small classifiers, with seeded builders, batches and
one training step, shared by the jit tests of tests/models and the pass tests of tests/passes."""

import ember
import ember.nn as nn
import ember.nn.functional as F

BATCH = 4
CLASSES = 3


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16),
                                 nn.Tanh(), nn.Linear(16, CLASSES))

    def forward(self, x):
        return self.net(x)


class DropoutCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.dropout = nn.Dropout(0.25)
        self.fc = nn.Linear(8 * 3 * 3, CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(ember.flatten(x, 1))
        return self.fc(x)


class BatchNormCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 6 * 6, CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(ember.flatten(x, 1))


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.fc = nn.Linear(8, CLASSES)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


class TransformerClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                           dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x):
        return self.fc(self.encoder(x).mean(1))


MODELS = {
    "mlp": (MLP, (3, 4)),
    "dropout_cnn": (DropoutCNN, (1, 12, 12)),
    "batchnorm_cnn": (BatchNormCNN, (1, 12, 12)),
    "lstm": (LSTMClassifier, (6, 5)),
    "transformer": (TransformerClassifier, (5, 16)),
}


def build(name, seed=1):
    """Model `name` of MODELS, its parameters drawn from `seed`."""
    cls, _ = MODELS[name]
    ember.manual_seed(seed)
    return cls()


def batch(name, seed):
    """A batch (inputs, labels) for model `name`, drawn from `seed`."""
    _, shape = MODELS[name]
    ember.manual_seed(100 + seed)
    return ember.randn(BATCH, *shape), ember.randint(0, CLASSES, (BATCH,))


def train_step(model, optimizer, x, y):
    """One optimizer step on the cross-entropy of model(x) against y; the detached loss."""
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()
