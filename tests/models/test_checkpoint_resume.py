"""Checkpoint, load into fresh objects, continue: identical to training without interruption."""

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember.optim.lr_scheduler import StepLR


def _model():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.BatchNorm1d(16), nn.Linear(16, 3))


def _train(model, optimizer, scheduler, batches):
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    ember.manual_seed(0)
    batches = [(ember.randn(8, 6), ember.randint(0, 3, (8,))) for _ in range(10)]
    reference = _model()
    initial = {k: v.clone() for k, v in reference.state_dict().items()}

    def fresh():
        model = _model()
        model.load_state_dict(initial)
        optimizer = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
        return model, optimizer, StepLR(optimizer, step_size=3, gamma=0.5)

    model, optimizer, scheduler = fresh()
    _train(model, optimizer, scheduler, batches)

    first, first_opt, first_sched = fresh()
    _train(first, first_opt, first_sched, batches[:5])
    path = tmp_path / "checkpoint.safetensors"
    ember.save({"model": first.state_dict(), "optimizer": first_opt.state_dict(),
                "scheduler": first_sched.state_dict()}, path)

    resumed, resumed_opt, resumed_sched = fresh()
    checkpoint = ember.load(path)
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed_sched.load_state_dict(checkpoint["scheduler"])
    _train(resumed, resumed_opt, resumed_sched, batches[5:])

    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert resumed_sched.get_last_lr() == scheduler.get_last_lr()
