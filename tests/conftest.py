"""Test set-up: skip (with the reason) what needs data this machine does not have.

A notebook declares the data it needs in its metadata, e.g. ``"requires": ["cifar10"]``;
unit tests use the ``needs_cifar10`` marker. ``.ci/run`` provides the data from
``../shared`` (CIFAR10_DIR, KERAS_HOME); without it these tests are skipped, not failed.
"""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import pytest
from image_files import write_messy_folder

from utils.cli import main
from utils.settings import CIFAR10_ENV, keras_cache_dir


def _cifar10_missing() -> str | None:
    """Why CIFAR-10 cannot be loaded without a download, or None when it can."""
    source = os.environ.get(CIFAR10_ENV)
    if source:
        return None if Path(source).expanduser().exists() else f"{CIFAR10_ENV}={source} does not exist"
    if (keras_cache_dir() / "datasets" / "cifar-10-batches-py-target").exists():
        return None
    return (f"CIFAR-10 is not available offline: set {CIFAR10_ENV} to a local copy "
            f"(README, 'Working offline'); .ci/run does this from ../shared")


def _imagenet_weights_missing() -> str | None:
    """Why the offline backbone's ImageNet weights are not in the Keras cache, or None when they are."""
    weights = keras_cache_dir() / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    if weights.exists():
        return None
    return (f"{weights} is missing: point KERAS_HOME at a copy of a Keras cache holding the MobileNet(alpha=0.25) "
            "ImageNet weights (README, 'Working offline'); .ci/run does this from ../shared")


#: What a notebook's metadata may require, and how to tell why it is missing (None: present).
REQUIREMENTS = {"cifar10": _cifar10_missing, "imagenet_weights": _imagenet_weights_missing}


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_cifar10: needs CIFAR-10 without downloading it")
    config.addinivalue_line("markers", "needs_imagenet_weights: needs the offline backbone's weights in the cache")


def _notebook_requirements(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as file:
        return json.load(file).get("metadata", {}).get("requires", [])


def pytest_collection_modifyitems(config, items):
    notebooks = {}
    for item in items:
        needs = [need for need in REQUIREMENTS if item.get_closest_marker(f"needs_{need}")]
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


@pytest.fixture
def messy_folder(tmp_path):
    """A folder-per-class data set as users have them: mixed image modes, hidden folders, stray and broken files."""
    return write_messy_folder(tmp_path / "pets")


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli("train", "--epochs", "1", env={"QUICK": "1"})`` runs ``python -m utils ...`` in this process: its exit
    status (2 for a usage error, as argparse gives it) and what it printed."""
    def run(*args, env=None):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        try:
            status = main([str(arg) for arg in args])
        except SystemExit as exit_:
            status = exit_.code
        out, err = capsys.readouterr()
        return types.SimpleNamespace(returncode=status, stdout=out, stderr=err)

    return run
