"""Keras callbacks the notebooks pass to ``model.fit`` by name: a learning-rate schedule that fits into a
time budget, and the progress bar that goes with it.

``TimeBudget(schedule, minutes=10)`` sets the learning rate before every training step to
``schedule(progress)``, where ``progress`` runs from 0 to 1 over the budget, and stops training
when the budget is spent (within an epoch if need be). Because progress is measured in seconds, the
decay ends exactly when the time does, however fast or slow each epoch turns out, and no part of the
budget is left unused on a machine whose speed changes mid-run. Validation passes during ``fit`` do not
count against the budget.

(The recipe's lookahead averaging is notebook 02's own code, in the generated :mod:`utils.cnn`.)
"""

from __future__ import annotations

import math
import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Learning rate by progress through a budget of ``minutes`` and/or ``epochs``; stops at its end.

    ``schedule(progress)`` gives the learning rate, ``progress`` being the larger of two fractions: of
    the time budget used so far (validation passes excepted), and of the ``epochs`` x steps-per-epoch
    steps done. With only ``epochs``, this is an ordinary step-based schedule.

    Each epoch's logs (and so the ``History``) get ``learning_rate``; at the end the ``History`` also gets,
    per epoch, ``epochs_done`` (a budget cut short counts as a fraction) and ``seconds`` (training time
    so far). Give ``model.fit``
    ``epochs=budget.fit_epochs``. After every epoch the number of epochs expected to fit is estimated
    from the latest epoch's time, for :class:`BudgetProgbar`.
    """

    def __init__(self, schedule, minutes: float | None = None, epochs: int | None = None, verbose: int = 1):
        super().__init__()
        if minutes is None and epochs is None:
            raise ValueError("give the time budget a number of minutes, of epochs, or both")
        if minutes is not None and minutes <= 0:
            raise ValueError(f"minutes must be positive, got {minutes}")
        self.schedule, self.verbose = schedule, verbose
        self.max_epochs = epochs
        self.seconds_budget = None if minutes is None else minutes * 60
        self.planned = epochs if minutes is None else None  # epochs expected to fit (None: not known yet)
        self.steps_per_epoch = None
        self.step = 0
        self.started = self.warm_time = self.last_batch_time = self.test_started = None
        self.paused = 0.0  # seconds spent on validation passes, which the budget does not count
        self.trained_seconds = 0.0
        self.epoch_seconds = []

    @property
    def fit_epochs(self) -> int:
        """The ``epochs`` to give ``model.fit``: the cap, or more than the time budget can hold."""
        return self.max_epochs or 10_000

    @property
    def epochs_done(self) -> float:
        """Epochs of training done so far, a last partial epoch counted as a fraction."""
        if self.steps_per_epoch:
            return self.step / self.steps_per_epoch
        return float(len(self.epoch_seconds))

    @property
    def seconds(self) -> float:
        """Training seconds so far: from the start of ``fit`` to the last step, validation passes excepted."""
        return self.trained_seconds

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started - self.paused

    def progress(self) -> float:
        """How far through the schedule training is, from 0 to 1."""
        done = 0.0
        if self.seconds_budget is not None:
            done = self._elapsed() / self.seconds_budget
        if self.max_epochs:
            if self.steps_per_epoch:
                done = max(done, self.step / (self.max_epochs * self.steps_per_epoch))
            else:  # a data set of unknown length: count whole epochs
                done = max(done, len(self.epoch_seconds) / self.max_epochs)
        return min(1.0, done)

    def _expect(self, epochs_done, epoch_seconds):
        """Estimate how many epochs the budget holds, for the progress display."""
        remaining = self.seconds_budget - self._elapsed()
        expected = epochs_done + max(0, math.ceil(remaining / epoch_seconds - 0.05))
        if self.max_epochs:
            expected = min(expected, self.max_epochs)
        self.planned = max(epochs_done, expected, 1)

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.steps_per_epoch = (self.params or {}).get("steps")
        self.record = {"epochs_done": [], "seconds": []}

    def on_train_end(self, logs=None):
        history = getattr(self.model, "history", None)  # Keras' History, once an epoch has ended
        if history is not None and hasattr(history, "history"):
            history.history.update(self.record)  # in the History, not in the progress bar

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.schedule(self.progress())

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.last_batch_time = time.perf_counter()
        self.trained_seconds = self.last_batch_time - self.started - self.paused
        if batch == min(4, (self.steps_per_epoch or 5) - 1):  # the first steps trace the graph: time from here
            self.warm_time, self.warm_batch = self.last_batch_time, batch
        if self.progress() >= 1.0:
            self.model.stop_training = True  # the schedule has reached its end

    def on_test_begin(self, logs=None):  # a validation pass inside fit: the clock stops
        self.test_started = time.perf_counter()

    def on_test_end(self, logs=None):
        if self.test_started is not None:
            self.paused += time.perf_counter() - self.test_started
            self.test_started = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.epoch_paused = self.paused
        self.epoch_first_step = self.step

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.epoch_seconds.append(now - self.epoch_started - (self.paused - self.epoch_paused))
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.record["epochs_done"].append(self.epochs_done)
        self.record["seconds"].append(self.seconds)
        if self.seconds_budget is not None and not self.model.stop_training:
            steps = self.step - self.epoch_first_step
            if epoch == 0 and self.warm_time is not None and steps > self.warm_batch + 1:
                # a steady epoch from the steps after the first few (graph tracing)
                estimate = (self.last_batch_time - self.warm_time) / (steps - 1 - self.warm_batch) * steps
            else:
                estimate = self.epoch_seconds[-1]
            before = self.planned
            self._expect(epoch + 1, estimate)
            if self.verbose and self.planned != before:
                print(f"time budget: about {self.planned} epochs of {estimate:.0f} s fit in "
                      f"{self.seconds_budget / 60:g} min", flush=True)
        if self.max_epochs and epoch + 1 >= self.max_epochs:
            self.model.stop_training = True


class BudgetProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, showing the epochs a :class:`TimeBudget` expects to fit (``?`` until known), and
    the steps actually done when the budget ends an epoch early."""

    def __init__(self, budget: TimeBudget):
        super().__init__()
        self.budget = budget

    def on_epoch_begin(self, epoch, logs=None):
        epochs, self.epochs = self.epochs, 1  # let Keras reset its bar without printing its own header
        super().on_epoch_begin(epoch, logs)
        self.epochs = epochs
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.budget.planned or '?'}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.progbar is not None and self.target and self.seen < self.target:  # the budget ended the epoch
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=True)  # show the steps done
        else:
            super().on_epoch_end(epoch, logs)


class RunEstimate(keras.callbacks.Callback):
    """Says, after the first steps of training, how long ``epochs`` epochs will take on this machine.

    Long runs should say so before the user waits: a backbone that takes an hour on a CPU prints
    "about 57 min ..." within the first seconds. Nothing is printed for runs under ``min_minutes``.
    """

    def __init__(self, epochs: int, measure_seconds: float = 5.0, min_minutes: float = 2.0, verbose: int = 1):
        super().__init__()
        self.epochs, self.measure_seconds, self.min_minutes = epochs, measure_seconds, min_minutes
        self.verbose = verbose
        self.estimate_seconds = None  # once measured

    def on_train_begin(self, logs=None):
        self._start = None
        self._done = False

    def on_train_batch_end(self, batch, logs=None):
        if self._done:
            return
        now = time.perf_counter()
        if self._start is None:  # the first step includes tracing and compiling: not counted
            self._start, self._first = now, batch
            return
        steps = self.params.get("steps")
        elapsed = now - self._start
        if steps and (elapsed >= self.measure_seconds or batch == steps - 1):
            self._done = True
            per_step = elapsed / (batch - self._first)
            self.estimate_seconds = per_step * steps * self.epochs
            if self.verbose and self.estimate_seconds >= 60 * self.min_minutes:
                print(f"\nRunEstimate: about {_duration(self.estimate_seconds)} for {self.epochs} epoch(s) on this "
                      f"machine ({per_step:.2f} s per step of {steps}; validation not included; early stopping "
                      "may end it sooner)", flush=True)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
