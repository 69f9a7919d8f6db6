"""Command line: ``python -m utils COMMAND``.

Commands:
  info      what this machine has: versions, GPU or CPU, quick mode, data sources
  cifar10   load CIFAR-10 (download, cache or CIFAR10_DIR) and print shapes, counts and load time
  train     train notebook 02's CNN on CIFAR-10 (within a time budget) and report its accuracy
  benchmark training images per second of a recipe with each precision and XLA setting
  export    write the #@save cells of notebooks 03 and 04 to utils/cnn.py and utils/transfer.py
  check-dataset  check a folder-per-class data set before training (exit 0 usable, 1 problems, 2 bad path)
  predict   top-k classes of image files or folders with an ImageNet model or a saved .keras model
  run-notebooks  execute the notebooks in order, each in a fresh kernel, and print a summary table
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import utils


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _info(_args) -> int:
    utils.print_environment()
    return 0


def _cifar10(args) -> int:
    from utils.cifar10 import describe_source

    print(f"source: {args.source or describe_source()}")
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test), class_names = utils.load_cifar10(args.source)
    seconds = time.perf_counter() - start
    print(f"x_train {x_train.shape} {x_train.dtype}, y_train {y_train.shape} {y_train.dtype}")
    print(f"x_test  {x_test.shape} {x_test.dtype}, y_test  {y_test.shape} {y_test.dtype}")
    for label, name in enumerate(class_names):
        print(f"  {label} {name:<10} train {int((y_train == label).sum()):>5}  test {int((y_test == label).sum()):>5}")
    print(f"load_seconds={seconds:.1f}")
    return 0


def _train_folder(args) -> int:
    from utils.own_images import summary_line, train_on_folder, write_report
    from utils.saving import model_info_path, save_model
    from utils.settings import by_mode, models_dir

    if args.recipe == "baseline" or args.validation or args.without or args.set or args.calibration_images is not None:
        raise ValueError("--data trains --recipe transfer (default) or fast; --validation, --without, --set, "
                         "--calibration-images and the baseline are for CIFAR-10")
    if args.save and not args.save.endswith(".keras"):
        raise ValueError(f"--save {args.save}: the model file must end in .keras")
    epochs = args.epochs or by_mode(full=5, quick=2)
    fine_tune = args.fine_tune_epochs if args.fine_tune_epochs is not None else by_mode(full=5, quick=1)
    run = train_on_folder(args.data, backbone=args.backbone, recipe=args.recipe or "transfer",
                          image_size=args.image_size, epochs=epochs, fine_tune_epochs=fine_tune,
                          minutes=args.minutes, batch_size=args.batch_size or 32,
                          validation_split=args.validation_split, patience=args.patience or None,
                          augment=not args.no_augment, rotation=args.rotation, zoom=args.zoom,
                          verbose=args.verbose)  # a folder with problems raises DatasetFolderError: exit 1
    name = Path(args.data).expanduser().resolve().name
    save = Path(args.save) if args.save else models_dir() / f"{name}.keras"
    validation = run.evaluations["validation"][0].accuracy
    save_model(run.model, save, run.class_names, **run.settings, validation_accuracy=round(validation, 4),
               train_seconds=round(run.seconds, 1),
               **({"test_accuracy": round(run.evaluations["test"][0].accuracy, 4)} if "test" in run.evaluations
                  else {}))
    report = Path(args.report) if args.report else save.with_name(save.stem + "_report")
    write_report(run, report)
    print(f"saved {save} (+ {model_info_path(save).name}); report in {report}/")
    print(summary_line(run))
    return 0


def _train(args) -> int:
    if args.data:
        return _train_folder(args)

    import keras

    from utils import ablation, cnn
    from utils.calibration import calibrate_with_outputs
    from utils.data import cifar10_splits, hold_out, stratified_subset
    from utils.environment import best_precision, precision
    from utils.evaluation import evaluate, predict_proba
    from utils.runner import parse_assignments
    from utils.saving import model_info_path, save_model
    from utils.settings import by_mode, quick_mode

    if args.save and not args.save.endswith(".keras"):
        raise ValueError(f"--save {args.save}: the model file must end in .keras")
    args.recipe = args.recipe or "fast"
    if args.calibration_images is not None and (args.calibration_images < 0 or args.validation):
        raise ValueError("--calibration-images takes 0 or more images, and is for runs without --validation "
                         "(which calibrate on the validation images)")
    if args.recipe == "transfer":
        raise ValueError("--recipe transfer needs --data DIR (on CIFAR-10, notebook 05 runs it)")
    baseline = args.recipe == "baseline"
    settings = ablation.recipe_settings(cnn.BASELINE if baseline else cnn.RECIPE, args.without,
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
        (x_train, y_train), (x_eval, y_eval), class_names = utils.load_cifar10()
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
    keras.utils.set_random_seed(utils.SEED if args.seed is None else args.seed)
    with precision(best_precision()):
        model = cnn.baseline_cnn(len(class_names)) if baseline else cnn.recipe_cnn(x_train, settings, len(class_names))
    history = cnn.train(model, x_train, y_train, settings, minutes=args.minutes, epochs=epochs, verbose=args.verbose)
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
    print(f"{evaluated_on}_accuracy={accuracy:.4f} train_seconds={seconds:.0f} params={model.count_params()}")
    return 0


def _benchmark(args) -> int:
    from utils.benchmark import measure_throughput

    precisions = args.precision or ["float32", "mixed_bfloat16"]
    for precision in precisions:
        for jit in ([False, True] if args.xla else [False]):
            rate = measure_throughput(args.recipe, precision=precision, jit_compile=jit, steps=args.steps)
            print(f"recipe={args.recipe} precision={precision} xla={'on' if jit else 'off'} "
                  f"images_per_second={rate:.0f}", flush=True)
    return 0


def _export(args) -> int:
    from utils import export

    if args.check:
        stale = export.stale_modules()
        for path in stale:
            print(f"{path} differs from the #@save cells of its notebook: run python -m utils export", file=sys.stderr)
        return 1 if stale else 0
    changed = export.export_all()
    for item in export.EXPORTS:
        state = "written" if item.module_path in changed else "unchanged"
        print(f"notebooks/{item.notebook} -> utils/{item.module}: {state}")
    return 0


def _check_dataset(args) -> int:
    from utils.doctor import write_report
    from utils.folders import DatasetFolderError, check_dataset

    start = time.perf_counter()
    try:
        check = check_dataset(args.directory, validation_split=args.validation_split, min_images=args.min_images,
                              near_duplicates=args.near_duplicates)
    except DatasetFolderError as err:  # the path itself is wrong
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(check.report())
    images = sum(len(scan.facts) for scan in check.scans.values())
    print(f"({images} image files read in {time.perf_counter() - start:.1f} s)")
    if args.report:
        try:
            print(f"findings written to {write_report(check.findings, args.report)} ({len(check.findings)} rows)")
        except OSError as err:
            print(f"error: cannot write --report {args.report}: {err.strerror or err}", file=sys.stderr)
            return 2
    if args.strict and check.unreadable:
        print(f"--strict: {len(check.unreadable)} unreadable file(s) count as a problem")
        return 1
    return 0 if check.usable else 1


def _predict(args) -> int:
    import csv

    from utils import predict
    from utils.backbones import BackboneWeightsUnavailable

    try:
        predictor = predict.load_predictor(args.model, args.labels)
    except (predict.ModelNotAvailable, BackboneWeightsUnavailable, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if "note" in predictor.info:
        print(f"note: {predictor.info['note']}", file=sys.stderr)
    paths = predict.image_paths(args.paths)
    if not paths:
        print(f"error: no image files in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    if args.one_by_one:
        (predictions, failures), seconds = predict.timed(predict.predict_one_by_one, predictor, paths, args.top)
        results = [*predictions, *failures]
    else:  # streamed: each result is printed and written as it comes, memory stays flat
        results = predict.iter_predictions(predictor, paths, args.top, args.batch_size)
    file = open(args.csv, "w", newline="", encoding="utf-8") if args.csv else None  # noqa: SIM115
    writer = csv.writer(file) if file else None
    if writer:
        writer.writerow(["path", "rank", "label", "probability"] + (["unsure"] if args.min_confidence else []))
    done = failed = unsure_count = 0
    start = time.perf_counter()
    try:
        for item in results:
            if not isinstance(item, predict.Prediction):
                failed += 1
                print(f"error: {item[0]}: {item[1]}", file=sys.stderr)
                continue
            done += 1
            unsure = args.min_confidence is not None and item.probabilities[0] < args.min_confidence
            unsure_count += unsure
            print(f"{item.path}" + (f"  (unsure: top-1 below {args.min_confidence:g})" if unsure else ""))
            for rank, (label, probability) in enumerate(zip(item.labels, item.probabilities, strict=True), start=1):
                print(f"  {rank}. {label:<28} {probability:.4f}")
                if writer:
                    writer.writerow([item.path, rank, label, f"{probability:.6f}"]
                                    + (["yes" if unsure else "no"] if args.min_confidence else []))
            if file and done % 256 == 0:
                file.flush()  # a run stopped half-way keeps what it did
    finally:
        if file:
            file.close()
    if not args.one_by_one:
        seconds = time.perf_counter() - start
    if args.csv:
        print(f"wrote {args.csv}")
    how = "one image per model.predict call" if args.one_by_one else f"batches of {args.batch_size}"
    print(f"{done} image(s) predicted with {predictor.name} in {seconds:.1f} s "
          f"({done / seconds:.1f} images/s, {how})" + (f"; {failed} failed" if failed else ""))
    if args.min_confidence is not None:
        print(f"{unsure_count} of {done} unsure (top-1 probability below {args.min_confidence:g}): sort them by hand")
    if args.benchmark and done:
        rate = done / seconds
        alone = predict.model_only_rate(predictor, args.batch_size)
        reading = predict.reading_rate(paths, predictor.image_size, args.batch_size)
        ceiling = predict.shared_ceiling(alone, reading)
        print(f"benchmark: the model alone runs {alone:.1f} images/s (random input, batches of {args.batch_size}); "
              f"this run reached {rate / alone:.0%} of it")
        print(f"benchmark: reading the files alone (decode and resize, no model) runs {reading:.1f} images/s; "
              f"taking turns on the same CPU cores the two can do at most {ceiling:.1f} images/s, and this run "
              f"reached {rate / ceiling:.0%} of that")
    return 1 if failed else 0


def _run_notebooks(args) -> int:
    import os

    from utils import runner
    from utils.settings import QUICK_ENV, quick_mode

    if args.quick:
        os.environ[QUICK_ENV] = "1"  # read by utils.settings here and in every kernel started from here
    try:
        paths = runner.find_notebooks(args.names)
        settings = runner.parse_assignments(args.set)
    except (runner.NotebookNotFound, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"running {len(paths)} notebook(s) in {'quick' if quick_mode() else 'full'} mode; "
          f"executed copies go to {args.output}")
    try:
        runs = runner.run_notebooks(paths, args.output, settings, args.figures, args.cell_timeout)
    except ValueError as err:  # a --set name no notebook has
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; the executed copies so far are in {args.output}", file=sys.stderr)
        return 130
    print()
    print(runner.summary_table(runs))
    for run in runs:
        if run.settings:
            print(f"{run.name}: " + ", ".join(f"{k}={v}" for k, v in run.settings.items()))
    figures = [path for run in runs for path in run.figures]
    if figures:
        print(f"figures: {', '.join(str(p) for p in figures)}")
    failed = [run for run in runs if not run.ok]
    for run in failed:
        print(f"error: {run.name} failed; its executed copy, with the traceback, is {run.output}", file=sys.stderr)
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("info", help="versions, GPU or CPU, quick mode, data sources").set_defaults(run=_info)
    cifar = commands.add_parser("cifar10", help="load CIFAR-10 and print shapes, class counts and load time")
    cifar.add_argument("--source", help="a local copy (folder or .tar.gz); default: $CIFAR10_DIR, else download")
    cifar.set_defaults(run=_cifar10)
    from utils.ablation import INGREDIENTS

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
    train.add_argument("--recipe", choices=["baseline", "fast", "transfer"],
                       help="baseline or fast (CIFAR-10; default fast); transfer (default with --data) or fast")
    train.add_argument("--data", metavar="DIR", help="your folder: one sub-folder per class, or train/ val/ test/ "
                       "folders that each hold them")
    from utils.settings import DEFAULT_BACKBONE, OFFLINE_BACKBONE  # not utils.backbones: it loads TensorFlow

    train.add_argument("--backbone", default=DEFAULT_BACKBONE, help=f"with --data: a backbone key of notebook 04's "
                       f"table (default {DEFAULT_BACKBONE}; {OFFLINE_BACKBONE} works offline)")
    train.add_argument("--image-size", type=_positive, help="with --data: side in pixels the backbone sees "
                       "(default: the backbone's own, 224)")
    train.add_argument("--fine-tune-epochs", type=int, help="with --data: epochs of stage 2 (default 5; 0: none)")
    train.add_argument("--validation-split", type=float, default=0.2,
                       help="with --data: fraction held out when DIR has no val/ folder (default 0.2)")
    train.add_argument("--patience", type=int, default=3, help="with --data: stop a stage after this many epochs "
                       "without a better validation loss, keeping the best weights (0: never)")
    train.add_argument("--no-augment", action="store_true", help="with --data: no random flips and shifts")
    train.add_argument("--rotation", type=float, default=0.0, help="with --data: random rotation, as a fraction "
                       "of a full turn (0.05: up to 18 degrees)")
    train.add_argument("--zoom", type=float, default=0.0, help="with --data: random zoom, as a fraction (0.1)")
    train.add_argument("--report", metavar="DIR", help="with --data: the report folder (default: beside the model, "
                       "<model>_report)")
    train.add_argument("--minutes", type=float, help="time budget for training; the schedule is fitted into it")
    train.add_argument("--epochs", type=int, help="number of epochs (at most this many with --minutes)")
    train.add_argument("--batch-size", type=_positive, help="images per step (--recipe fast: default 1024, the "
                       "peak learning rate scales with it; --data: default 32)")
    train.add_argument("--seed", type=int, help=f"random seed of the weights and the augmentation (default "
                       f"{utils.SEED}, the notebooks'); repeat a run with other seeds to see its spread")
    train.add_argument("--calibration-images", type=int, metavar="N",
                       help="CIFAR-10 without --validation: training images held out from training to fit the "
                            "temperature that calibrates the model's confidences (default 1000; 0: train on all, "
                            "not calibrated)")
    train.add_argument("--validation", action="store_true",
                       help="hold out notebook 02's validation images and report accuracy on them, not on the test set")
    train.add_argument("--without", action="append", default=[], metavar="INGREDIENT",
                       help="train the fast recipe without this ingredient (repeatable): " + ", ".join(INGREDIENTS))
    train.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="change a setting of notebook 02's RECIPE (notebook 02 explains each, notebook 03 "
                            "prints them), e.g. --set widths=(64,256,256) (repeatable)")
    train.add_argument("--save", metavar="PATH.keras", help="save the trained model and its class names")
    train.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1,
                       help="Keras progress output: 1 progress bar (default), 2 one line per epoch, 0 none")
    train.set_defaults(run=_train)
    bench = commands.add_parser("benchmark", help="training images per second for each precision / XLA setting")
    bench.add_argument("--recipe", choices=["baseline", "fast"], default="fast")
    bench.add_argument("--precision", action="append", choices=["float32", "mixed_bfloat16", "mixed_float16"],
                       help="repeat to compare several (default: float32 and mixed_bfloat16)")
    bench.add_argument("--xla", action="store_true", help="also measure with XLA compilation (jit_compile=True)")
    bench.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    bench.set_defaults(run=_benchmark)
    export_parser = commands.add_parser(
        "export", help="write the #@save cells of notebooks 03 and 04 to utils/cnn.py and utils/transfer.py",
        description="Write the code cells marked #@save of notebooks 03 and 04 to utils/cnn.py and utils/transfer.py, "
                    "which the train command runs. With --check, write nothing and exit 1 if a module differs.")
    export_parser.add_argument("--check", action="store_true", help="exit 1 if a module differs from its notebook")
    export_parser.set_defaults(run=_export)
    check = commands.add_parser(
        "check-dataset", help="the dataset doctor: classes, counts, unreadable files, duplicates, folders that "
                              "are not classes, imbalance",
        description="Check a folder-per-class data set before training: classes and counts, unreadable files, "
                    "byte-identical files (within a class, across classes, across the train/validation split), "
                    "optionally near-duplicates, folders that are probably not classes, class imbalance with "
                    "class weights, files whose content is not what their ending says, animated and very small "
                    "images. Only reads the files. Exit status: 0 usable (warnings and skipped files are listed), "
                    "1 problems that would stop training or make it wrong, 2 the path is not a folder.")
    check.add_argument("directory", metavar="DIR", help="folder with one sub-folder of images per class "
                       "(or train/, val/, test/ folders that each hold them)")
    check.add_argument("--validation-split", type=float, default=0.2,
                       help="fraction held out for validation when DIR has no val/ folder (default 0.2)")
    check.add_argument("--min-images", type=int, default=2, help="fewest readable images a class may have")
    check.add_argument("--strict", action="store_true", help="exit 1 also when some files are unreadable")
    check.add_argument("--near-duplicates", action="store_true",
                       help="also find near-identical images (resized or re-encoded copies) by a perceptual hash")
    check.add_argument("--report", metavar="FILE", help="write the findings to FILE, one row each: JSON if FILE "
                       "ends in .json, else CSV")
    check.set_defaults(run=_check_dataset)

    pred = commands.add_parser(
        "predict", help="top-k classes of images with an ImageNet model or a saved .keras model",
        description="Predict the top-k classes of image files. Exit status: 0 all predicted, 1 some files could "
                    "not be read (each named on stderr; the others are predicted), 2 usage error or missing model.")
    pred.add_argument("paths", nargs="*", metavar="PATH",
                      help="image files or folders (searched recursively); default: DATASET/ and the sample photos")
    pred.add_argument("--model", default=DEFAULT_BACKBONE,
                      help=f"a backbone key for its ImageNet classifier (default {DEFAULT_BACKBONE}; "
                           f"{OFFLINE_BACKBONE} works offline) or a .keras model: saved by notebook 03 or 04, "
                           "or anywhere else if it takes raw 0-255 RGB images")
    pred.add_argument("--labels", metavar="FILE", help="class names of a .keras model saved without this project's "
                      "JSON file, one per line in output order (without them: class indices)")
    pred.add_argument("--top", type=_positive, default=5, metavar="K", help="classes shown per image (default 5)")
    pred.add_argument("--csv", metavar="FILE", help="also write path,rank,label,probability rows to FILE")
    pred.add_argument("--batch-size", type=_positive, default=32, help="images per model call (default 32)")
    pred.add_argument("--min-confidence", type=float, metavar="P", help="mark files whose top-1 probability is "
                      "below P (e.g. 0.6) as unsure, in the output and in an 'unsure' column of the CSV")
    pred.add_argument("--benchmark", action="store_true",
                      help="also measure the model alone (random input) and reading the files alone, to compare "
                           "with the rate of this run")
    pred.add_argument("--one-by-one", action="store_true",
                      help="call model.predict once per image instead, to compare the speed")
    pred.set_defaults(run=_predict)
    from utils.runner import DEFAULT_OUTPUT_DIR

    notebooks = commands.add_parser(
        "run-notebooks", help="execute the notebooks in order in fresh kernels; summary table; exit 1 if any fails",
        description="Execute the notebooks in order, each in a fresh kernel of this Python, and print a table of "
                    "notebook, seconds, status and headline metric. The executed copies (with outputs) are written "
                    "to --output; the notebooks themselves are not changed. Exit status: 0 all ran, 1 some failed, "
                    "2 usage error.")
    notebooks.add_argument("names", nargs="*", metavar="NAME",
                           help="notebooks to run: numbers (02), names or paths; default: all, in order")
    notebooks.add_argument("--quick", action="store_true", help="quick mode (QUICK=1): small subsets, few epochs")
    notebooks.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                           help="change a setting of the settings cell, e.g. --set BACKBONE=mobilenet_v1_025 "
                                "(repeatable; applies to each notebook that has the setting)")
    notebooks.add_argument("--output", type=Path, default=DEFAULT_OUTPUT_DIR, metavar="DIR",
                           help="folder for the executed copies and summary.json (default build/notebooks)")
    notebooks.add_argument("--figures", type=Path, metavar="DIR",
                           help="also save the outputs of cells tagged figure:NAME as DIR/NAME.png")
    notebooks.add_argument("--cell-timeout", type=_positive, metavar="SECONDS",
                           help="stop a cell that runs longer than this (default: no limit)")
    notebooks.set_defaults(run=_run_notebooks)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (utils.Cifar10NotAvailable, utils.Cifar10FormatError, utils.ImageLoadError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
