"""The command line, ``python -m utils COMMAND``: one module per command, each with ``add_parser`` and ``run``.

Commands:
  info           what this machine has: versions, GPU or CPU, quick mode, data sources
  cifar10        load CIFAR-10 (download, cache or CIFAR10_DIR) and print shapes, counts and load time
  train          train notebook 02's CNN on CIFAR-10, or transfer-learn on your own folder (--data DIR)
  benchmark      training images per second of a recipe with each precision and XLA setting
  check-dataset  check a folder-per-class data set before training (exit 0 usable, 1 problems, 2 bad path)
  predict        top-k classes of image files or folders with an ImageNet model or a saved .keras model
  run-notebooks  execute the notebooks in order, each in a fresh kernel, and print a summary table
  export-model   a .keras model as SavedModel, LiteRT and ONNX files, each run and compared with the Keras model
  regenerate     write the #@save cells of notebooks 02 and 04 to utils/cnn.py and utils/transfer.py

This package is the command line's own: the notebooks' library (the rest of ``utils``) never imports it.
"""

from __future__ import annotations

import argparse
import sys

from utils.cifar10 import Cifar10FormatError, Cifar10NotAvailable
from utils.cli import benchmark, check_dataset, export_model, info, predict, regenerate, run_notebooks, train
from utils.images import ImageLoadError

COMMANDS = (info, train, benchmark, check_dataset, predict, export_model, run_notebooks, regenerate)


def main(argv=None) -> int:
    """Run one command; returns its exit status (an error the user can fix: one line on stderr, status 1)."""
    parser = argparse.ArgumentParser(prog="python -m utils", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (Cifar10NotAvailable, Cifar10FormatError, ImageLoadError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # where a command does not keep what it has done so far itself
        print("\ninterrupted (Ctrl-C)", file=sys.stderr)
        return 130

