"""Ember quickstart: fit y = 2x + 1 from noisy samples with autograd and hand-written SGD.

Written exactly as the PyTorch program would be, with `import ember as torch`.
"""

import ember as torch

torch.manual_seed(0)

# Data: y = 2x + 1 plus a little noise.
x = torch.rand(200, 1) * 4 - 2
y = 2 * x + 1 + 0.1 * torch.randn(200, 1)

# Parameters, learned by plain gradient descent.
w = torch.zeros(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
learning_rate = 0.1

for step in range(200):
    prediction = x * w + b
    loss = ((prediction - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= learning_rate * w.grad
        b -= learning_rate * b.grad
    w.grad.zero_()
    b.grad.zero_()
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}")

print(f"learned weight {w.item():.3f} (true 2), bias {b.item():.3f} (true 1)")
