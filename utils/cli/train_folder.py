"""``python -m utils train --data DIR``: transfer learning on your own folder of images, as notebook 04 does it.

The folder is checked by the dataset doctor and read by :func:`utils.data.load_data`; a new head is trained on a
frozen ImageNet backbone, then the top of the backbone is fine-tuned with batch normalisation frozen (notebook 04's
code, the generated :mod:`utils.transfer`); each stage stops early when the validation loss stops improving and
keeps its best weights. Or, with ``--recipe fast``, notebook 02's recipe on the images shrunk to 32 x 32.

Without a ``test/`` folder a seeded, stratified test split is held out (``--test-split``), and the summary line
and report lead with its accuracy: the validation images chose the epoch and the temperature, so theirs is
optimistic. Ctrl-C stops cleanly: the best model so far is calibrated, saved and reported, and the backup beside
it (``<model>_backup/``, Keras' ``BackupAndRestore``) lets the same command with ``--resume`` continue from the
last completed epoch.

:func:`write_report` writes what a practitioner needs to judge the result into a folder beside the model: training
curves, a confusion matrix readable at any number of classes, the most-confused pairs, the per-class precision /
recall / F1 table (CSV and text) and a gallery of the most confident mistakes with their file paths.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils import cnn, plots, transfer
from utils.backbones import default_image_size
from utils.calibration import calibrate_with_outputs
from utils.data import as_arrays, load_data
from utils.evaluation import evaluate, most_confident_mistakes, predict_dataset, prediction_titles
from utils.images import load_image
from utils.saving import model_info_path, save_model
from utils.settings import DEFAULT_BACKBONE, SEED, best_precision, by_mode, models_dir, precision


def run(args) -> int:
    """``train --data DIR``: check the folder, train, save the model and write its report folder. Exit status 130
    after Ctrl-C (the best model so far saved and reported)."""
    if args.recipe == "baseline" or args.validation or args.without or args.set or args.calibration_images is not None:
        raise ValueError("--data trains --recipe transfer (default) or fast; --validation, --without, --set, "
                         "--calibration-images and the baseline are for CIFAR-10")
    if args.save and not args.save.endswith(".keras"):
        raise ValueError(f"--save {args.save}: the model file must end in .keras")
    epochs = args.epochs or by_mode(full=5, quick=2)
    fine_tune = args.fine_tune_epochs if args.fine_tune_epochs is not None else by_mode(full=5, quick=1)
    name = Path(args.data).expanduser().resolve().name
    save = Path(args.save) if args.save else models_dir() / f"{name}.keras"
    backup = save.with_name(save.stem + "_backup")
    if backup.exists() and not args.resume:
        raise ValueError(f"{backup} holds the backup of an interrupted run: add --resume to continue it, or delete "
                         "that folder to start again")
    if args.resume and not backup.exists():
        raise ValueError(f"--resume: no interrupted run to continue ({backup} does not exist)")
    run = train_on_folder(args.data, backbone=args.backbone, recipe=args.recipe or "transfer",
                          image_size=args.image_size, epochs=epochs, fine_tune_epochs=fine_tune,
                          minutes=args.minutes, batch_size=args.batch_size or 32,
                          validation_split=args.validation_split, test_split=args.test_split, strict=args.strict,
                          cache=not args.no_cache, patience=args.patience or None,
                          augment=not args.no_augment, rotation=args.rotation, zoom=args.zoom,
                          backup=None if args.recipe == "fast" else backup,
                          verbose=args.verbose)  # a folder with problems raises DatasetFolderError: exit 1
    accuracies = {f"{split}_accuracy": round(result.accuracy, 4) for split, (result, _, _) in run.evaluations.items()}
    save_model(run.model, save, run.class_names, **run.settings, **accuracies, train_seconds=round(run.seconds, 1),
               **({"interrupted": run.interrupted} if run.interrupted else {}))
    report = Path(args.report) if args.report else save.with_name(save.stem + "_report")
    write_report(run, report)
    print(f"saved {save} (+ {model_info_path(save).name}); report in {report}/")
    print(summary_line(run))
    if run.interrupted:
        print(f"interrupted ({run.interrupted}): the model saved is the best one so far. To continue from the last "
              f"completed epoch, run the same command again with --resume (the backup is in {backup}/)")
        return 130
    if backup.exists():
        shutil.rmtree(backup)  # this run's own backup: the run finished
    return 0


@dataclass
class FolderRun:
    """What :func:`train_on_folder` produced."""

    model: object
    class_names: list[str]
    histories: dict  # stage name -> Keras History.history
    evaluations: dict  # "validation" (and "test") -> (Evaluation, labels, file paths)
    seconds: float
    counts: dict
    settings: dict = field(default_factory=dict)
    interrupted: str = ""  # where Ctrl-C stopped it ("" when it finished)


def train_on_folder(data_dir, backbone: str = DEFAULT_BACKBONE, recipe: str = "transfer",
                    image_size: int | None = None,
                    epochs: int = 5, fine_tune_epochs: int = 5, minutes: float | None = None, batch_size: int = 32,
                    validation_split: float = 0.2, test_split: float = 0.0, strict: bool = False,
                    cache: bool = True, patience: int | None = 3, augment: bool = True,
                    rotation: float = 0.0, zoom: float = 0.0, head_learning_rate: float = 1e-3,
                    fine_tune_learning_rate: float = 1e-4, fine_tune_fraction: float = 0.5,
                    whole_blocks: bool = True, weights: str | None = "imagenet", backup=None,
                    verbose: int = 1) -> FolderRun:
    """Train on a folder-per-class data set (checked first; problems raise ``DatasetFolderError``). ``backup``: a
    folder where each transfer-learning stage keeps a backup of its last epoch (``BackupAndRestore``); a run
    interrupted with Ctrl-C keeps its best weights so far and says so in ``interrupted``."""
    keras.utils.set_random_seed(SEED)
    if recipe == "fast":
        image_size = 32
    image_size = image_size or default_image_size(backbone, data_dir)
    data = load_data(data_dir, image_size=image_size, batch_size=batch_size, validation_split=validation_split,
                     test_split=test_split, strict=strict, cache=cache)
    if verbose:
        print(data.check.report())
    start = time.perf_counter()
    deadline = None if minutes is None else start + 60 * minutes
    histories, interrupted = {}, ""
    if recipe == "fast":
        model = _train_fast(data, epochs, minutes, verbose)
        histories["from scratch"] = model.history.history
    else:
        model, base = transfer.build_classifier(backbone, len(data.class_names), data.input_shape, image_size,
                                                augment=augment, rotation=rotation, zoom=zoom, weights=weights)
        stages = [("stage 1: head", head_learning_rate, epochs, None if deadline is None else start + 30 * minutes)]
        if fine_tune_epochs:
            stages.append(("stage 2: fine-tuning", fine_tune_learning_rate, fine_tune_epochs, deadline))
        done = 0  # epochs completed by the stages before
        for number, (stage, learning_rate, stage_epochs, stage_deadline) in enumerate(stages, 1):
            if number == 2:
                transfer.unfreeze_top(base, fine_tune_fraction, whole_blocks)
            finished = None if backup is None else Path(backup) / f"stage{number}.done.json"
            if finished is not None and finished.exists():  # --resume: this stage finished before the interruption
                record = json.loads(finished.read_text())
                model.load_weights(finished.with_suffix(".weights.h5"))
                histories[stage], done = record["history"], record["epochs_done"]
                print(f"--resume: {stage} had finished ({record['epochs']} epochs); its weights are restored")
                continue
            best, ctrl_c = KeepBest(), StopOnCtrlC()
            callbacks = [best, ctrl_c, *([Deadline(stage_deadline)] if stage_deadline else [])]
            if backup is not None:  # kept when the stage ends: run() removes the folder once the whole run is done
                callbacks.append(keras.callbacks.BackupAndRestore(str(Path(backup) / f"stage{number}"),
                                                                  delete_checkpoint=False))
            try:
                history = transfer.fit_stage(model, data.train, data.validation, learning_rate, stage_epochs,
                                             initial_epoch=done, patience=patience, extra_callbacks=callbacks,
                                             verbose=verbose)
            except KeyboardInterrupt:  # a second Ctrl-C: at once
                ctrl_c.pressed = True
                ctrl_c.on_train_end()  # SIGINT's handler back as it was
            if ctrl_c.pressed:
                interrupted = f"{stage}, after {best.epochs} completed epoch(s)"
                print(f"\nCtrl-C: stopped during {stage}; keeping the best weights so far", flush=True)
                best.restore(model)
                histories[stage] = best.history
                break
            histories[stage] = history.history
            done += len(history.epoch)
            if finished is not None:
                model.save_weights(finished.with_suffix(".weights.h5"))
                finished.write_text(json.dumps({"epochs": len(history.epoch), "epochs_done": done,
                                                "history": {k: [float(v) for v in vs]
                                                            for k, vs in history.history.items()}}))
    seconds = time.perf_counter() - start
    # honest confidences: T fitted on validation; the same pass gives the validation evaluation
    model, temperature, probabilities, labels = calibrate_with_outputs(model, data.validation)
    evaluations = {"validation": _evaluate(model, data.validation, data.class_names, (probabilities, labels))}
    if data.test is not None:
        evaluations["test"] = _evaluate(model, data.test, data.class_names)
    settings = {"data": str(data.source), "recipe": recipe, "image_size": image_size, "batch_size": batch_size,
                "temperature": round(temperature, 4), "epochs": epochs, "minutes": minutes,
                "validation_split": validation_split, "test_split": test_split, "patience": patience,
                "left_out": [str(path) for path in data.check.left_out]}
    if recipe != "fast":
        settings.update(backbone=backbone, fine_tune_epochs=fine_tune_epochs, augment=augment, rotation=rotation,
                        zoom=zoom)
    return FolderRun(model=model, class_names=data.class_names, histories=histories, evaluations=evaluations,
                     seconds=seconds, counts=data.counts, settings=settings, interrupted=interrupted)


def _train_fast(data, epochs, minutes, verbose):
    """Notebook 02's fast recipe on the folder's images, all read into memory at 32 x 32."""
    x_train, y_train = as_arrays(data.train)
    batch_size = max(32, min(1024, 2 ** int(np.log2(max(1, len(x_train) // 20)))))  # 20+ steps an epoch
    settings = {**cnn.RECIPE, "batch_size": batch_size}
    with precision(best_precision()):
        model = cnn.recipe_cnn(x_train, settings, len(data.class_names))
    cnn.train(model, x_train, y_train, settings, validation_data=as_arrays(data.validation), minutes=minutes,
              epochs=None if minutes else epochs, verbose=verbose)
    return model


def _evaluate(model, dataset, class_names, outputs=None):
    """``(Evaluation, labels, file paths)`` of ``model`` on ``dataset``; ``outputs``: its ``(probabilities,
    labels)`` when already predicted."""
    probabilities, labels = predict_dataset(model, dataset) if outputs is None else outputs
    return evaluate(probabilities, labels, class_names), labels, list(getattr(dataset, "file_paths", []))


def summary_line(run: FolderRun) -> str:
    """``[test_accuracy=0.XXXX] val_accuracy=0.XXXX train_seconds=N classes=K images=N``: the held-out test
    accuracy first, where there is one (the validation images chose the epoch and the temperature)."""
    parts = [f"test_accuracy={run.evaluations['test'][0].accuracy:.4f}"] if "test" in run.evaluations else []
    parts += [f"val_accuracy={run.evaluations['validation'][0].accuracy:.4f}", f"train_seconds={run.seconds:.0f}",
              f"classes={len(run.class_names)}", f"images={sum(run.counts.values())}"]
    return " ".join(parts)


def write_report(run: FolderRun, folder, mistakes: int = 24) -> Path:
    """Write the report folder; returns its path. Files: ``curves.png``, ``confusion_matrix.png``,
    ``confused_pairs.csv``, ``per_class.csv``, ``per_class.txt``, ``mistakes.png``, ``mistakes.csv``,
    ``summary.json`` (for the test split too, if the folder has one: ``test_*``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    merged = {}
    for history in run.histories.values():
        for key, values in history.items():
            merged.setdefault(key, []).extend(values)
    marks = {}
    if len(run.histories) == 2:
        marks = {"fine-tuning starts": len(next(iter(run.histories.values()))["loss"])}
    plots.training_curves({"training": merged}, marks=marks).savefig(folder / "curves.png", dpi=100)
    plt.close("all")
    summary = {"settings": run.settings, "train_seconds": round(run.seconds, 1), "classes": run.class_names,
               "images": run.counts}
    if run.interrupted:
        summary["interrupted"] = run.interrupted
    for split, (result, labels, paths) in sorted(run.evaluations.items(), key=lambda item: item[0] != "test"):
        prefix = "" if split == "validation" else f"{split}_"
        summary[f"{split}_accuracy"] = round(result.accuracy, 4)
        plots.confusion_matrix(result.confusion, run.class_names, title=f"{split}: {len(labels)} images").savefig(
            folder / f"{prefix}confusion_matrix.png", dpi=100)
        pd.DataFrame(most_confused_pairs(result.confusion, run.class_names, 20),
                     columns=["true class", "predicted class", "images", "share of the true class"]).to_csv(
            folder / f"{prefix}confused_pairs.csv", index=False, float_format="%.3f")
        per_class = pd.DataFrame(result.per_class).T.loc[run.class_names].rename_axis("class")
        per_class.astype({"support": int}).to_csv(folder / f"{prefix}per_class.csv", float_format="%.4f")
        (folder / f"{prefix}per_class.txt").write_text(f"{split} accuracy {result.accuracy:.4f}\n\n{result.report}")
        wrong = most_confident_mistakes(result, labels, mistakes)
        pd.DataFrame({"file": [paths[i] if paths else i for i in wrong],
                      "true class": [run.class_names[labels[i]] for i in wrong],
                      "predicted class": [run.class_names[result.predictions[i]] for i in wrong],
                      "confidence": result.confidences[wrong]}).to_csv(
            folder / f"{prefix}mistakes.csv", index=False, float_format="%.4f")
        if len(wrong) and paths:
            pictures = [load_image(paths[i], size=(96, 96)) for i in wrong]
            titles = [f"{Path(paths[i]).name[:18]}\n{title}"
                      for i, title in zip(wrong, prediction_titles(wrong, result, labels, run.class_names),
                                          strict=True)]
            plots.image_grid(pictures, titles=titles, columns=6, size=1.9,
                             title=f"most confident mistakes ({split}); files in {prefix}mistakes.csv").savefig(
                folder / f"{prefix}mistakes.png", dpi=100)
        plt.close("all")
    (folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return folder


class KeepBest(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation loss so far, and the history, so that a run
    stopped by Ctrl-C mid-stage can still save its best model."""

    def __init__(self):
        super().__init__()
        self.best, self.weights, self.epochs, self.history = float("inf"), None, 0, {}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epochs += 1
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        if logs.get("val_loss", float("inf")) <= self.best or self.weights is None:
            self.best, self.weights = logs.get("val_loss", float("inf")), self.model.get_weights()

    def restore(self, model):
        if self.weights is not None:
            model.set_weights(self.weights)


class StopOnCtrlC(keras.callbacks.Callback):
    """The first Ctrl-C asks training to stop after the current step (a flag that Keras checks, rather than an
    exception raised in the middle of TensorFlow's work, which aborted the process on Python 3.12); a second
    Ctrl-C interrupts at once. SIGINT stays as it was where it is ignored or this is not the main thread."""

    def __init__(self):
        super().__init__()
        self.pressed, self._previous = False, None

    def on_train_begin(self, logs=None):
        current = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is threading.main_thread() and current is not signal.SIG_IGN:
            self._previous = current
            signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True
        print("\nCtrl-C: stopping after this step (Ctrl-C again to stop at once)", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        if self.pressed:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class Deadline(keras.callbacks.Callback):
    """Stops training at the first step after ``deadline``, a ``time.perf_counter()`` value, within an epoch
    if need be: two stages can share one time budget (``python -m utils train --data DIR --minutes M``)."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() >= self.deadline:
            self.model.stop_training = True


def most_confused_pairs(matrix, class_names, count: int = 10) -> list[tuple[str, str, int, float]]:
    """The ``count`` largest off-diagonal cells: ``(true class, predicted class, images, share of the true
    class)``, most images first."""
    matrix = np.asarray(matrix)
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    totals = matrix.sum(axis=1).clip(min=1)
    order = np.argsort(off, axis=None)[::-1][:count]
    pairs = []
    for flat in order:
        true, predicted = np.unravel_index(flat, off.shape)
        if off[true, predicted] == 0:
            break
        pairs.append((class_names[true], class_names[predicted], int(off[true, predicted]),
                      float(off[true, predicted] / totals[true])))
    return pairs
