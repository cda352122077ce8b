"""An LSTM that remembers: read a sequence of random symbols, then name the first one.

The answer is only in the first step, so the network must carry it through the whole sequence
in its cell state. Prints loss per epoch and the final accuracy on held-out sequences.
"""

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim

SYMBOLS, LENGTH = 4, 6


def make_batch(n: int, generator: torch.Generator):
    symbols = torch.randint(0, SYMBOLS, (n, LENGTH), generator=generator)
    return F.one_hot(symbols, SYMBOLS).float(), symbols[:, 0]


class Recaller(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.lstm = nn.LSTM(SYMBOLS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, SYMBOLS)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def main(epochs: int = 15, steps: int = 20) -> float:
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    model = Recaller()
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    for epoch in range(1, epochs + 1):
        total = 0.0
        for _ in range(steps):
            x, y = make_batch(64, data)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch:2d}  loss {total / steps:.4f}")
    x, y = make_batch(1000, torch.Generator().manual_seed(123))
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    print(f"accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
