"""Command line: ``python -m utils COMMAND``.

Commands:
  info      what this machine has: versions, GPU or CPU, quick mode, data sources
  cifar10   load CIFAR-10 (download, cache or CIFAR10_DIR) and print shapes, counts and load time
"""

from __future__ import annotations

import argparse
import sys
import time

import utils


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("info", help="versions, GPU or CPU, quick mode, data sources").set_defaults(run=_info)
    cifar = commands.add_parser("cifar10", help="load CIFAR-10 and print shapes, class counts and load time")
    cifar.add_argument("--source", help="a local copy (folder or .tar.gz); default: $CIFAR10_DIR, else download")
    cifar.set_defaults(run=_cifar10)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (utils.Cifar10NotAvailable, utils.Cifar10FormatError, utils.ImageLoadError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
