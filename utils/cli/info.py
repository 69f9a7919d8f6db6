"""``python -m utils info`` (what this machine has) and ``python -m utils cifar10`` (where CIFAR-10 comes from, and
that it loads)."""

from __future__ import annotations

import time

from utils.cifar10 import load_cifar10
from utils.settings import cifar10_source, print_environment


def add_parser(commands) -> None:
    commands.add_parser("info", help="versions, GPU or CPU, quick mode, data sources").set_defaults(run=run_info)
    cifar = commands.add_parser("cifar10", help="load CIFAR-10 and print shapes, class counts and load time")
    cifar.add_argument("--source", help="a local copy (folder or .tar.gz); default: $CIFAR10_DIR, else download")
    cifar.set_defaults(run=run_cifar10)


def run_info(_args) -> int:
    print_environment()
    return 0


def run_cifar10(args) -> int:
    print(f"source: {args.source or cifar10_source()}")
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test), class_names = load_cifar10(args.source)
    seconds = time.perf_counter() - start
    print(f"x_train {x_train.shape} {x_train.dtype}, y_train {y_train.shape} {y_train.dtype}")
    print(f"x_test  {x_test.shape} {x_test.dtype}, y_test  {y_test.shape} {y_test.dtype}")
    for label, name in enumerate(class_names):
        print(f"  {label} {name:<10} train {int((y_train == label).sum()):>5}  test {int((y_test == label).sum()):>5}")
    print(f"load_seconds={seconds:.1f}")
    return 0
