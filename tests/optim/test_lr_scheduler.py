"""ember.optim.lr_scheduler against torch.optim.lr_scheduler: the same learning-rate (and
momentum) sequences, state dicts and warnings."""

import math
import warnings

import pytest
import torch

import ember

STEPS = 30


def optimizers(name: str = "SGD", **kwargs):
    """The same two-group optimizer (lrs 0.1 and 0.02) in both libraries."""
    kwargs = {"momentum": 0.9, **kwargs} if name == "SGD" else kwargs
    t_params = [torch.nn.Parameter(torch.ones(2)) for _ in range(2)]
    e_params = [ember.nn.Parameter(ember.ones(2)) for _ in range(2)]
    t_opt = getattr(torch.optim, name)([{"params": t_params[:1]},
                                        {"params": t_params[1:], "lr": 0.02}], lr=0.1, **kwargs)
    e_opt = getattr(ember.optim, name)([{"params": e_params[:1]},
                                        {"params": e_params[1:], "lr": 0.02}], lr=0.1, **kwargs)
    return t_opt, e_opt


def history(opt, scheduler, steps: int = STEPS, metrics=None):
    """Per step: get_last_lr() and every group's lr, momentum and betas."""
    records = [snapshot(opt, scheduler)]
    for i in range(steps):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[i])
        records.append(snapshot(opt, scheduler))
    return records


def snapshot(opt, scheduler):
    groups = [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]
    return list(scheduler.get_last_lr()), groups


def _flatten(value) -> list:
    """The leaves of nested lists and tuples, in order (pytest.approx compares flat ones)."""
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def assert_same_history(t_records, e_records) -> None:
    assert len(t_records) == len(e_records)
    for step, (t, e) in enumerate(zip(t_records, e_records)):
        t_leaves, e_leaves = _flatten(t), _flatten(e)
        assert [x is None for x in e_leaves] == [x is None for x in t_leaves], f"step {step}"
        e_numbers = [x for x in e_leaves if x is not None]
        t_numbers = [x for x in t_leaves if x is not None]
        assert e_numbers == pytest.approx(t_numbers, rel=1e-12, abs=1e-15), f"step {step}"


SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("MultiStepLR", dict(milestones=[3, 8, 8, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.005)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95 ** epoch)),
    ("LambdaLR", dict(lr_lambda=[lambda epoch: 1 / (epoch + 1), lambda epoch: epoch % 4])),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=40, anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=0.3, epochs=5, steps_per_epoch=7, three_phase=True,
                        pct_start=0.25, div_factor=10.0, final_div_factor=100.0)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=STEPS, cycle_momentum=False)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=STEPS, base_momentum=[0.8, 0.7],
                        max_momentum=0.99, pct_start=0.5)),
]
SCHEDULER_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SCHEDULERS)]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS, ids=SCHEDULER_IDS)
def test_lr_sequence_matches_torch(name, kwargs):
    t_opt, e_opt = optimizers()
    t_sched = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    e_sched = getattr(ember.optim.lr_scheduler, name)(e_opt, **kwargs)
    assert e_sched.base_lrs == t_sched.base_lrs
    assert_same_history(history(t_opt, t_sched), history(e_opt, e_sched))


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_cycles_adam_beta1(strategy, three_phase):
    t_opt, e_opt = optimizers("Adam", betas=(0.9, 0.98))
    kwargs = dict(max_lr=0.01, total_steps=STEPS, anneal_strategy=strategy,
                  three_phase=three_phase)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, **kwargs)
    e_sched = ember.optim.lr_scheduler.OneCycleLR(e_opt, **kwargs)
    e_records = history(e_opt, e_sched)
    assert_same_history(history(t_opt, t_sched), e_records)
    assert {groups[0][2][1] for _, groups in e_records} == {0.98}  # beta2 is left alone
    assert len({groups[0][2][0] for _, groups in e_records}) > 5


def test_one_cycle_errors_match_torch():
    t_opt, e_opt = optimizers()
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=1.0, total_steps=3)
    e_sched = ember.optim.lr_scheduler.OneCycleLR(e_opt, max_lr=1.0, total_steps=3)
    history(t_opt, t_sched, steps=3)
    history(e_opt, e_sched, steps=3)
    for opt, sched in [(t_opt, t_sched), (e_opt, e_sched)]:
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            sched.step()
    with pytest.raises(ValueError, match="either total_steps OR"):
        ember.optim.lr_scheduler.OneCycleLR(e_opt, max_lr=1.0)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        ember.optim.lr_scheduler.OneCycleLR(
            ember.optim.Adagrad([ember.nn.Parameter(ember.ones(1))]), max_lr=1.0,
            total_steps=10)


LOSSES = [1.0, 0.9, 0.91, 0.92, 0.95, 0.89, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 0.5, 0.6,
          0.7, 0.8, 0.9, 0.88, 0.8999, 0.9, 0.9, 0.9, 0.95, 0.96, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(patience=2),
    dict(mode="max", factor=0.5, patience=1),
    dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(mode="max", patience=0, threshold=0.1, threshold_mode="rel"),
    dict(patience=0, factor=0.2, min_lr=[0.01, 0.0001]),
    dict(patience=0, factor=0.9, min_lr=0.05, eps=0.01),
])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    t_opt, e_opt = optimizers()
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    e_sched = ember.optim.lr_scheduler.ReduceLROnPlateau(e_opt, **kwargs)
    # Metrics may be 0-d tensors (float32 here, so `best` is float32-rounded in both).
    assert_same_history(history(t_opt, t_sched, metrics=[torch.tensor(x) for x in LOSSES]),
                        history(e_opt, e_sched, metrics=[ember.tensor(x) for x in LOSSES]))
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "min_lrs"):
        assert getattr(e_sched, key) == getattr(t_sched, key), key


def test_reduce_lr_on_plateau_state_dict_round_trip():
    t_opt, e_opt = optimizers()
    e_sched = ember.optim.lr_scheduler.ReduceLROnPlateau(e_opt, patience=1, cooldown=1)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, patience=1, cooldown=1)
    history(e_opt, e_sched, steps=10, metrics=LOSSES)
    history(t_opt, t_sched, steps=10, metrics=LOSSES)
    assert sorted(e_sched.state_dict()) == sorted(t_sched.state_dict())
    resumed = ember.optim.lr_scheduler.ReduceLROnPlateau(e_opt)
    resumed.load_state_dict(e_sched.state_dict())
    assert_same_history(history(t_opt, t_sched, steps=20, metrics=LOSSES[10:]),
                        history(e_opt, resumed, steps=20, metrics=LOSSES[10:]))


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 12, 15], gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=8, eta_min=0.01)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS, three_phase=True)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.9 ** epoch)),
])
def test_state_dict_round_trip(name, kwargs):
    t_opt, e_opt = optimizers()
    t_sched = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    e_sched = getattr(ember.optim.lr_scheduler, name)(e_opt, **kwargs)
    history(t_opt, t_sched, steps=10)
    history(e_opt, e_sched, steps=10)
    t_state, e_state = t_sched.state_dict(), e_sched.state_dict()
    # torch also saves a flag that is only set inside its step().
    assert sorted(e_state) == sorted(set(t_state) - {"_get_lr_called_within_step"})
    for key in ("last_epoch", "base_lrs", "_step_count", "_last_lr"):
        assert e_state[key] == t_state[key], key

    fresh_t, fresh_e = optimizers()
    fresh_t.load_state_dict(t_opt.state_dict())
    fresh_e.load_state_dict(e_opt.state_dict())
    t_resumed = getattr(torch.optim.lr_scheduler, name)(fresh_t, **kwargs)
    e_resumed = getattr(ember.optim.lr_scheduler, name)(fresh_e, **kwargs)
    t_resumed.load_state_dict(t_state)
    e_resumed.load_state_dict(e_state)
    resumed = history(fresh_e, e_resumed, steps=20)
    assert_same_history(history(fresh_t, t_resumed, steps=20), resumed)
    # The groups' lrs are those of an uninterrupted run from the first step on (constructing the
    # new scheduler may reset them, in torch too).
    assert_same_history(history(e_opt, e_sched, steps=20)[1:], resumed[1:])


def test_step_with_epoch_uses_the_closed_form_and_warns():
    t_opt, e_opt = optimizers()
    t_sched = torch.optim.lr_scheduler.StepLR(t_opt, step_size=3, gamma=0.5)
    e_sched = ember.optim.lr_scheduler.StepLR(e_opt, step_size=3, gamma=0.5)
    t_opt.step()
    e_opt.step()
    for epoch in (7, 2, 11):
        with pytest.warns(UserWarning, match="epoch parameter"):
            t_sched.step(epoch)
        with pytest.warns(UserWarning, match="epoch parameter"):
            e_sched.step(epoch)
        assert e_sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-15)


def test_scheduler_stepped_before_optimizer_warns():
    _, e_opt = optimizers()
    sched = ember.optim.lr_scheduler.ExponentialLR(e_opt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    _, e_opt = optimizers()
    sched = ember.optim.lr_scheduler.ExponentialLR(e_opt, gamma=0.5)
    e_opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_initial_lr_and_resuming():
    _, e_opt = optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        ember.optim.lr_scheduler.StepLR(e_opt, step_size=2, last_epoch=5)
    sched = ember.optim.lr_scheduler.StepLR(e_opt, step_size=2)
    assert [g["initial_lr"] for g in e_opt.param_groups] == [0.1, 0.02]
    assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.02]


def test_lambda_lr_saves_callable_objects_state():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    _, e_opt = optimizers()
    sched = ember.optim.lr_scheduler.LambdaLR(e_opt, [Decay(0.5), lambda epoch: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.5}, None]
    other = ember.optim.lr_scheduler.LambdaLR(e_opt, [Decay(0.9), lambda epoch: 1.0])
    other.load_state_dict(state)
    assert other.lr_lambdas[0].rate == 0.5
    assert math.isclose(other.get_lr()[0], 0.1)
