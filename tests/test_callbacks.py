"""utils.callbacks.TimeBudget: the learning rate follows the clock (or the steps) and training stops at the end."""

import types

import keras
import pytest

from utils import callbacks


def linear(progress, epoch):
    return 1.0 - progress


def fake_model():
    return types.SimpleNamespace(optimizer=keras.optimizers.SGD(0.1), stop_training=False)


def test_schedule_follows_the_clock_and_stops_when_the_budget_is_spent(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])
    budget = callbacks.TimeBudget(linear, minutes=100 / 60, verbose=0)
    model = fake_model()
    budget.set_model(model)
    budget.set_params({"steps": 10})
    budget.on_train_begin()

    def run_epoch(epoch, seconds_per_step):
        logs = {}
        budget.on_epoch_begin(epoch)
        for batch in range(10):
            budget.on_train_batch_begin(batch)
            clock[0] += seconds_per_step
            budget.on_train_batch_end(batch)
            if model.stop_training:
                break
        budget.on_epoch_end(epoch, logs)
        return logs

    run_epoch(0, 2.0)  # 20 s: a fifth of the budget
    assert budget.progress() == pytest.approx(0.2) and budget.planned == 5
    assert budget.record == {"epochs_done": [1.0], "seconds": [pytest.approx(20)]}
    run_epoch(1, 4.0)  # the machine slows down: the decay stretches, the estimate drops
    assert budget.progress() == pytest.approx(0.6) and budget.planned == 3
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1 - 0.56)
    logs = run_epoch(2, 8.0)  # the budget runs out after 5 of the 10 steps
    assert model.stop_training and budget.step == 25 and budget.progress() == 1.0
    assert budget.record["epochs_done"] == [1.0, 2.0, 2.5] and budget.record["seconds"][-1] == pytest.approx(100)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1 - 0.92)
    assert logs["learning_rate"] == pytest.approx(1 - 0.92)


def test_without_a_budget_the_schedule_follows_the_steps():
    budget = callbacks.TimeBudget(linear, epochs=4)
    budget.steps_per_epoch, budget.step = 10, 30
    assert budget.progress() == 0.75 and budget.fit_epochs == 4 and budget.planned == 4
    assert callbacks.TimeBudget(linear, minutes=1).fit_epochs > 1000  # the budget, not fit, ends training


def test_a_budget_needs_a_limit_and_a_positive_one():
    with pytest.raises(ValueError, match="minutes, of epochs"):
        callbacks.TimeBudget(linear)
    with pytest.raises(ValueError, match="minutes must be positive"):
        callbacks.TimeBudget(linear, minutes=0)
