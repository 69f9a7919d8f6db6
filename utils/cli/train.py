"""``python -m utils train``: notebook 02's CNN on CIFAR-10 (its code, in the generated :mod:`utils.cnn`), or
transfer learning on your own folder (``--data DIR``, :mod:`utils.cli.train_folder`).

The recipe's settings are one dict, notebook 02's ``RECIPE``: ``--set NAME=VALUE`` changes one entry
(``--set widths=(32,128,128) --set batch_size=512``), ``--without NAME`` removes one ingredient, as
:data:`INGREDIENTS` says in terms of those entries. ``docs/results.md`` has what removing each one costs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import keras

from utils import cnn
from utils.calibration import calibrate_with_outputs
from utils.cifar10 import load_cifar10
from utils.cli import train_folder
from utils.cli.arguments import parse_assignments, positive
from utils.cli.train_folder import StopOnCtrlC
from utils.data import cifar10_splits, hold_out, stratified_subset
from utils.evaluation import evaluate, predict_proba
from utils.flops import forward_flops, training_flops
from utils.saving import model_info_path, save_model
from utils.settings import DEFAULT_BACKBONE, OFFLINE_BACKBONE, SEED, best_precision, by_mode, precision, quick_mode


@dataclass(frozen=True)
class Ingredient:
    """One ingredient of the fast recipe and the settings that remove it."""

    name: str
    what: str
    without: dict = field(default_factory=dict)  # entries of RECIPE that remove it


INGREDIENTS = {
    item.name: item
    for item in (
        Ingredient("whitening", "the first layer's filters are computed from the data and frozen (learnt without)",
                   {"whitening": False}),
        Ingredient("whitening-bias", "the whitening layer's bias learns for the first 3 epochs",
                   {"whitening_bias_epochs": 0}),
        Ingredient("identity-init", "convolutions start as identity maps (Dirac initialisation)", {"identity": False}),
        Ingredient("batchnorm-no-scale", "batch normalisation learns no scale, only its offset",
                   {"batchnorm_scale": True}),
        Ingredient("bias-lr", "batch normalisation's offsets learn 64 times faster", {"bias_scale": 1.0}),
        Ingredient("weight-decay", "weight decay 0.016 (Muon holds the filters' scale fixed)", {"weight_decay": 0.0}),
        Ingredient("muon", "Muon steps the 3 x 3 filters (orthogonalised momentum; without: SGD, as the rest)",
                   {"optimizer": "sgd"}),
        Ingredient("alternating-flip", "images are mirrored alternately, not at random", {"flip": "random"}),
        Ingredient("tta-shifts", "test-time augmentation adds 1-pixel shifts to the mirror image", {"test_views": 2}),
        Ingredient("logit-scale", "logits scaled by 1/9 before the softmax", {"logit_scale": 1.0}),
        Ingredient("label-smoothing", "label smoothing 0.2", {"label_smoothing": 0.0}),
    )
}


def recipe_settings(base: dict, without=(), changes: dict | None = None) -> dict:
    """``base`` (notebook 02's ``RECIPE`` or ``BASELINE``) with the ingredients named in ``without`` removed and
    ``changes`` applied. Raises ``ValueError`` naming an unknown ingredient or setting, and the known ones."""
    settings = dict(base)
    for name in without:
        if name not in INGREDIENTS:
            raise ValueError(f"--without {name}: no such ingredient; choose from {', '.join(INGREDIENTS)}")
        settings.update(INGREDIENTS[name].without)
    unknown = sorted(set(changes or {}) - set(base))
    if unknown:
        raise ValueError(f"--set {', '.join(unknown)}: not a setting of the recipe; choose from {', '.join(base)}")
    settings.update(changes or {})
    return settings


def add_parser(commands) -> None:
    train = commands.add_parser(
        "train", help="train notebook 02's CNN on CIFAR-10, or transfer-learn on your own folder (--data DIR)",
        description="Train a CNN of notebook 02 (the code of its #@save cells, in utils/cnn.py) on CIFAR-10. "
                    "Without --validation: on the 50,000 training images less 1,000 held out to calibrate the model's "
                    "confidences (--calibration-images), then test accuracy on the 10,000 test "
                    "images. With --validation: on notebook 02's 45,000 training images, then accuracy on its "
                    "5,000 validation images (for choosing settings; the test set is not used). "
                    "With --data DIR: on your folder-per-class images (checked first by the dataset doctor), by "
                    "notebook 04's transfer learning (or --recipe fast), with early stopping; saves the model and "
                    "writes a report folder beside it.")
    both = train.add_argument_group("what to train, and for how long")
    both.add_argument("--recipe", choices=["baseline", "fast", "transfer"],
                      help="baseline or fast (CIFAR-10; default fast); transfer (default with --data) or fast")
    both.add_argument("--data", metavar="DIR", help="your folder: one sub-folder per class, or train/ val/ test/ "
                      "folders that each hold them (default: CIFAR-10)")
    both.add_argument("--minutes", type=float, help="time budget for training; the schedule is fitted into it")
    both.add_argument("--epochs", type=int, help="number of epochs (at most this many with --minutes)")
    both.add_argument("--batch-size", type=positive, help="images per step (--recipe fast: default 2000, the peak "
                      "learning rates scale with it; --data: default 32)")
    both.add_argument("--seed", type=int, help=f"random seed of the weights and the augmentation (default {SEED}, "
                      "the notebooks'); repeat a run with other seeds to see its spread")
    both.add_argument("--save", metavar="PATH.keras", help="save the trained model and its class names")
    both.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1,
                      help="Keras progress output: 1 progress bar (default), 2 one line per epoch, 0 none")
    cifar = train.add_argument_group("CIFAR-10")
    cifar.add_argument("--validation", action="store_true",
                       help="hold out notebook 02's validation images and report accuracy on them, not on the test set")
    cifar.add_argument("--calibration-images", type=int, metavar="N",
                       help="without --validation: training images held out from training to fit the temperature "
                            "that calibrates the model's confidences (default 1000; 0: train on all, not calibrated)")
    cifar.add_argument("--without", action="append", default=[], metavar="INGREDIENT",
                       help="train the fast recipe without this ingredient (repeatable): " + ", ".join(INGREDIENTS))
    cifar.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="change a setting of notebook 02's RECIPE (notebook 02 explains each, notebook 03 "
                            "prints them), e.g. --set widths=(32,128,128) (repeatable)")
    folder = train.add_argument_group("your own folder (--data DIR)")
    folder.add_argument("--backbone", default=DEFAULT_BACKBONE, help=f"a backbone key of notebook 04's table "
                        f"(default {DEFAULT_BACKBONE}; {OFFLINE_BACKBONE} works offline)")
    folder.add_argument("--image-size", type=positive, help="side in pixels the backbone sees (default: the "
                        "backbone's own, 224)")
    folder.add_argument("--fine-tune-epochs", type=int, help="epochs of stage 2 (default 5; 0: none)")
    folder.add_argument("--validation-split", type=float, default=0.2,
                        help="fraction held out when DIR has no val/ folder (default 0.2)")
    folder.add_argument("--test-split", type=float, default=0.15,
                        help="fraction held out for the final test accuracy when DIR has no test/ folder "
                             "(default 0.15; 0: none, and only the optimistic validation accuracy is reported)")
    folder.add_argument("--strict", action="store_true", help="refuse a folder with byte-identical files under "
                        "two classes (default: leave every copy out and name them)")
    folder.add_argument("--no-cache", action="store_true", help="decode every image again in every epoch (default: "
                        "decode once and keep them, in memory or under $CNN_CACHE_DIR)")
    folder.add_argument("--resume", action="store_true", help="continue a run that was interrupted (Ctrl-C, a "
                        "crash) from its last completed epoch: the same command with --resume")
    folder.add_argument("--patience", type=int, default=3, help="stop a stage after this many epochs without a "
                        "better validation loss, keeping the best weights (0: never)")
    folder.add_argument("--no-augment", action="store_true", help="no random flips and shifts")
    folder.add_argument("--rotation", type=float, default=0.0, help="random rotation, as a fraction of a full turn "
                        "(0.05: up to 18 degrees)")
    folder.add_argument("--zoom", type=float, default=0.0, help="random zoom, as a fraction (0.1)")
    folder.add_argument("--report", metavar="DIR", help="the report folder (default: beside the model, "
                        "<model>_report)")
    train.set_defaults(run=run)


def run(args) -> int:
    return train_folder.run(args) if args.data else train_cifar10(args)


def train_cifar10(args) -> int:
    """Notebook 02's recipe (or baseline) on CIFAR-10, as notebook 03 trains it; the test (or validation) accuracy."""
    if args.save and not args.save.endswith(".keras"):
        raise ValueError(f"--save {args.save}: the model file must end in .keras")
    args.recipe = args.recipe or "fast"
    if args.calibration_images is not None and (args.calibration_images < 0 or args.validation):
        raise ValueError("--calibration-images takes 0 or more images, and is for runs without --validation "
                         "(which calibrate on the validation images)")
    if args.recipe == "transfer":
        raise ValueError("--recipe transfer needs --data DIR (on CIFAR-10, notebook 05 runs it)")
    baseline = args.recipe == "baseline"
    settings = recipe_settings(cnn.BASELINE if baseline else cnn.RECIPE, args.without,
                                        parse_assignments(args.set))
    quick = quick_mode()
    if args.batch_size:
        settings["batch_size"] = args.batch_size
    elif quick and not baseline:
        settings["batch_size"] = 256  # a small slice needs more, smaller steps
    changed = {name: value for name, value in settings.items()
               if value != (cnn.BASELINE if baseline else cnn.RECIPE)[name]}
    if args.validation:  # notebook 02's split: choices are made on the validation images, the test set stays unseen
        split = cifar10_splits(train_size=5000 if quick else None)
        x_train, y_train, class_names = split.x_train, split.y_train, split.class_names
        x_eval, y_eval = stratified_subset(split.x_val, split.y_val, 1000 if quick else None)
    else:
        (x_train, y_train), (x_eval, y_eval), class_names = load_cifar10()
        if quick:  # a small stratified slice, so the command finishes in about a minute
            x_train, y_train = stratified_subset(x_train, y_train, 5000)
            x_eval, y_eval = stratified_subset(x_eval, y_eval, 1000)
        held = by_mode(full=1000, quick=200) if args.calibration_images is None else args.calibration_images
        x_train, y_train, x_held, y_held = hold_out(x_train, y_train, held)  # to fit the temperature on
    evaluated_on = "validation" if args.validation else "test"
    epochs = args.epochs
    if epochs is None and args.minutes is None:
        epochs = by_mode(full=10, quick=2)
    limits = [f"budget {args.minutes:g} min"] if args.minutes else []
    limits += [f"at most {epochs} epochs"] if epochs else []
    print(f"recipe {args.recipe} (utils/cnn.py, the code of notebook 02): training on {len(x_train)} images, "
          f"evaluating on {len(x_eval)} {evaluated_on} images" + "".join(f", {x}" for x in limits))
    if changed:
        print("changed: " + ", ".join(f"{name}={value!r}" for name, value in changed.items())
              + (f" (without {', '.join(args.without)})" if args.without else ""))
    keras.utils.set_random_seed(SEED if args.seed is None else args.seed)
    with precision(best_precision()):
        model = cnn.baseline_cnn(len(class_names)) if baseline else cnn.recipe_cnn(x_train, settings, len(class_names))
    ctrl_c = StopOnCtrlC()  # the first Ctrl-C ends training after the current step; the model so far is kept
    try:
        history = cnn.train(model, x_train, y_train, settings, minutes=args.minutes, epochs=epochs,
                            verbose=args.verbose, callbacks=[ctrl_c])
    except KeyboardInterrupt:  # a second Ctrl-C: at once
        ctrl_c.pressed = True
        ctrl_c.on_train_end()  # SIGINT's handler back as it was
        history = model.history
    interrupted = ctrl_c.pressed
    if interrupted:
        if not history.history.get("seconds"):
            print("\nCtrl-C before the first epoch ended: nothing to evaluate or save", file=sys.stderr)
            return 130
        print(f"\nCtrl-C: stopped after {history.history['epochs_done'][-1]:.1f} epoch(s); evaluating the model so far")
    final = cnn.tta_model(model, settings["test_views"])  # what is saved, and what the accuracy below measures
    seconds = history.history["seconds"][-1]
    done = f"{history.history['epochs_done'][-1]:.1f} epochs of batches of {settings['batch_size']}"
    calibration, probabilities = {}, None  # honest confidences: a temperature fitted on images not trained on
    x_fit, y_fit, which = (x_eval, y_eval, "validation images") if args.validation else \
        (x_held, y_held, "training images held out from training (--calibration-images)")
    if len(x_fit):
        final, temperature, fitted, _ = calibrate_with_outputs(final, x_fit, y_fit)
        calibration = {"temperature": round(temperature, 4)}
        print(f"calibrated: temperature {temperature:.3f} fitted on {len(x_fit)} {which}")
        if args.validation:
            probabilities = fitted  # the evaluation images themselves: no second pass over them
    else:
        print("not calibrated: --calibration-images 0 trains on every image and leaves none to fit a temperature on")
    probabilities = predict_proba(final, x_eval) if probabilities is None else probabilities
    accuracy = evaluate(probabilities, y_eval, class_names).accuracy  # the temperature never changes it
    if settings["test_views"] > 1:  # what test-time augmentation is worth on this model
        views = {"one view": model, "mirror": cnn.tta_model(model, 2), "six views": cnn.tta_model(model, 6)}
        print(f"{evaluated_on} accuracy by test-time augmentation: " + ", ".join(
            f"{name} {evaluate(predict_proba(view, x_eval), y_eval, class_names).accuracy:.4f}"
            for name, view in views.items()))
    if args.save:
        save_model(final, args.save, class_names, recipe=args.recipe, settings=settings,
                   train_seconds=round(seconds, 1), **{f"{evaluated_on}_accuracy": round(accuracy, 4)}, **calibration,
                   **({"changed": {k: repr(v) for k, v in changed.items()}} if changed else {}))
        print(f"saved {args.save} (+ {model_info_path(args.save).name})")
    print(f"trained {done}")
    images_seen = history.history["epochs_done"][-1] * (len(x_train) // settings["batch_size"] * settings["batch_size"])
    print(f"training cost: {training_flops(model, 1) / 1e9:.3f} GFLOP per training image (three forward passes of "
          f"{forward_flops(model) / 1e9:.3f}), {training_flops(model, images_seen) / 1e15:.3f} PFLOP in all "
          f"({images_seen:,.0f} images seen): the ruler that does not depend on the machine")
    print(f"{evaluated_on}_accuracy={accuracy:.4f} train_seconds={seconds:.0f} params={model.count_params()}")
    if interrupted:
        print("interrupted: the figures above are those of the model when Ctrl-C came. The recipe's schedule is "
              "fitted to its whole budget, so a CIFAR-10 run starts again rather than resuming: run the same command")
        return 130
    return 0
