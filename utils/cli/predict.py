"""``python -m utils predict PATH ...``: the top-k classes of image files or folders, streamed (each result printed
and written as it comes, memory flat whatever the number of files), with ``--benchmark`` to compare the run's speed
with the model alone and with reading the files alone."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from utils.backbones import BackboneWeightsUnavailable
from utils.cli.arguments import positive
from utils.images import ImageLoadError, in_threads, load_image
from utils.predict import (
    ModelNotAvailable,
    Prediction,
    Predictor,
    image_paths,
    iter_predictions,
    load_predictor,
    read_image,
    top_k,
)
from utils.settings import DEFAULT_BACKBONE, OFFLINE_BACKBONE

SHOWN = 10  # with more than MANY files (and no --verbose), the top-k of the first SHOWN, then a progress bar
MANY = 20


def add_parser(commands) -> None:
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
    pred.add_argument("--top", type=positive, default=5, metavar="K", help="classes shown per image (default 5)")
    pred.add_argument("--csv", metavar="FILE", help="also write path,rank,label,probability rows to FILE")
    pred.add_argument("--batch-size", type=positive, default=32, help="images per model call (default 32)")
    pred.add_argument("--min-confidence", type=float, metavar="P", help="mark files whose top-1 probability is "
                      "below P (e.g. 0.6) as unsure, in the output and in an 'unsure' column of the CSV")
    pred.add_argument("--benchmark", action="store_true",
                      help="also measure the model alone (random input) and reading the files alone, to compare "
                           "with the rate of this run")
    pred.add_argument("--verbose", action="store_true", help=f"print the top-k of every file (default: of every file "
                      f"up to {MANY} files; with more, of the first {SHOWN}, then a progress bar)")
    pred.add_argument("--one-by-one", action="store_true",
                      help="call model.predict once per image instead, to compare the speed")
    pred.set_defaults(run=run)


def run(args) -> int:
    try:
        predictor = load_predictor(args.model, args.labels)
    except (ModelNotAvailable, BackboneWeightsUnavailable, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if "note" in predictor.info:
        print(f"note: {predictor.info['note']}", file=sys.stderr)
    paths = image_paths(args.paths)
    if not paths:
        print(f"error: no image files in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    if args.one_by_one:
        (predictions, failures), seconds = timed(predict_one_by_one, predictor, paths, args.top)
        results = [*predictions, *failures]
    else:  # streamed: each result is printed and written as it comes, memory stays flat
        results = iter_predictions(predictor, paths, args.top, args.batch_size)
    file = open(args.csv, "w", newline="", encoding="utf-8") if args.csv else None  # noqa: SIM115
    writer = csv.writer(file) if file else None
    if writer:
        writer.writerow(["path", "rank", "label", "probability"] + (["unsure"] if args.min_confidence else []))
    done = failed = unsure_count = 0
    every = args.verbose or len(paths) <= MANY
    progress = None if every else tqdm(total=len(paths), unit="image", file=sys.stderr, mininterval=1.0,
                                       desc="predicting", leave=False)
    say = print if progress is None else tqdm.write  # lines that do not break the progress bar
    start = time.perf_counter()
    try:
        for item in results:
            if progress is not None:
                progress.update(1)
            if not isinstance(item, Prediction):
                failed += 1
                say(f"error: {item[0]}: {item[1]}", file=sys.stderr)
                continue
            done += 1
            unsure = args.min_confidence is not None and item.probabilities[0] < args.min_confidence
            unsure_count += unsure
            shown = every or done <= SHOWN
            if shown:
                say(f"{item.path}" + (f"  (unsure: top-1 below {args.min_confidence:g})" if unsure else ""))
            if not every and done == SHOWN:
                say(f"... the top-{args.top} of the first {SHOWN} files; the others "
                    + ("are in " + args.csv if args.csv else "are not printed (--csv FILE writes them all)")
                    + "; --verbose prints every file")
            for rank, (label, probability) in enumerate(zip(item.labels, item.probabilities, strict=True), start=1):
                if shown:
                    say(f"  {rank}. {label:<28} {probability:.4f}")
                if writer:
                    writer.writerow([item.path, rank, label, f"{probability:.6f}"]
                                    + (["yes" if unsure else "no"] if args.min_confidence else []))
            if file and done % 256 == 0:
                file.flush()  # a run stopped half-way keeps what it did
    finally:
        if progress is not None:
            progress.close()
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
        alone = model_only_rate(predictor, args.batch_size)
        reading = reading_rate(paths, predictor.image_size)
        ceiling = shared_ceiling(alone, reading)
        print(f"benchmark: the model alone runs {alone:.1f} images/s (random input, batches of {args.batch_size}); "
              f"this run reached {rate / alone:.0%} of it")
        print(f"benchmark: reading the files alone (decode and resize, no model) runs {reading:.1f} images/s; "
              f"taking turns on the same CPU cores the two can do at most {ceiling:.1f} images/s, and this run "
              f"reached {rate / ceiling:.0%} of that")
    return 1 if failed else 0


def model_only_rate(predictor: Predictor, batch_size: int = 32, seconds: float = 5.0) -> float:
    """Images per second of the model alone (``predict_on_batch`` on random 0-255 input, after one warm-up
    call): the ceiling that reading files can at best approach."""
    height, width = predictor.image_size
    images = np.random.default_rng(0).uniform(0, 255, (batch_size, height, width, 3)).astype("float32")
    predictor.model.predict_on_batch(images)
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        predictor.model.predict_on_batch(images)
        calls += 1
    return calls * batch_size / (time.perf_counter() - start)


def reading_rate(paths, size, seconds: float = 5.0) -> float:
    """Files per second that :func:`utils.predict.iter_predictions`' pool of threads decodes and resizes to ``size``
    with no model running (the files in ``paths`` from the first, for about ``seconds``): the other ceiling."""
    done, start = 0, time.perf_counter()
    for _ in in_threads(lambda path: read_image(path, size), paths):
        done += 1
        if time.perf_counter() - start >= seconds:
            break
    return done / (time.perf_counter() - start)


def shared_ceiling(model_rate: float, reading_rate: float) -> float:
    """Images per second at best when reading and the model take turns on the same CPU cores, each as fast
    as alone: every image costs the time of both (on a GPU the model leaves the cores to reading, and the
    ceiling is the slower of the two)."""
    return 1 / (1 / model_rate + 1 / reading_rate)


def predict_one_by_one(predictor: Predictor, paths, k: int = 5):
    """The plain loop many tutorials show - one ``model.predict`` call per image - for comparison."""
    predictions, failures = [], []
    for path in paths:
        try:
            image = load_image(path, size=predictor.image_size).astype("float32")[None]
        except ImageLoadError as err:
            failures.append((path, err.reason))
            continue
        labels, probabilities = top_k(predictor.model.predict(image, verbose=0), predictor.class_names, k)
        predictions.append(Prediction(Path(path), labels[0], [float(v) for v in probabilities[0]]))
    return predictions, failures


def timed(function, *args, **kwargs):
    """``(result, seconds)`` of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start
