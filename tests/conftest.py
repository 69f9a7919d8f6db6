"""Test set-up: skip (with the reason) what needs data this machine does not have.

A notebook declares the data it needs in its metadata, e.g. ``"requires": ["cifar10"]``;
unit tests use the ``needs_cifar10`` marker. ``.ci/run`` provides the data from
``../shared`` (CIFAR10_DIR, KERAS_HOME); without it these tests are skipped, not failed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from utils.cifar10 import CIFAR10_ENV, keras_cache_dir


def _cifar10_missing() -> str | None:
    """Why CIFAR-10 cannot be loaded without a download, or None when it can."""
    source = os.environ.get(CIFAR10_ENV)
    if source:
        return None if Path(source).expanduser().exists() else f"{CIFAR10_ENV}={source} does not exist"
    if (keras_cache_dir() / "datasets" / "cifar-10-batches-py-target").exists():
        return None
    return (f"CIFAR-10 is not available offline: set {CIFAR10_ENV} to a local copy "
            f"(README, 'Working offline'); .ci/run does this from ../shared")


#: What a notebook's metadata may require, and how to tell why it is missing (None: present).
REQUIREMENTS = {"cifar10": _cifar10_missing}


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_cifar10: needs CIFAR-10 without downloading it")


def _notebook_requirements(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as file:
        return json.load(file).get("metadata", {}).get("requires", [])


def pytest_collection_modifyitems(config, items):
    notebooks = {}
    for item in items:
        needs = ["cifar10"] if item.get_closest_marker("needs_cifar10") else []
        path = Path(item.path)
        if path.suffix == ".ipynb":
            if path not in notebooks:
                notebooks[path] = _notebook_requirements(path)
            needs = notebooks[path]
        for need in needs:
            if need not in REQUIREMENTS:
                raise pytest.UsageError(f"{path}: unknown requirement {need!r} in notebook metadata")
            reason = REQUIREMENTS[need]()
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
