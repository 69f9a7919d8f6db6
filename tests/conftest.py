"""Test set-up: skip (with the reason) what needs data this machine does not have.

A notebook declares the data it needs in its metadata, e.g. ``"requires": ["cifar10"]``;
unit tests use the ``needs_cifar10`` marker. ``.ci/run`` provides the data from
``../shared`` (CIFAR10_DIR, KERAS_HOME); without it these tests are skipped, not failed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest
from image_files import write_messy_folder

from utils.cli import main
from utils.settings import CIFAR10_ENV, FLOWERS_ENV, REPO_ROOT, keras_cache_dir


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
    models = keras_cache_dir() / "models"
    missing = [name for name in ("mobilenet_7_5_224_tf.h5", "mobilenet_7_5_224_tf_no_top.h5",
                                 "mobilenet_2_5_224_tf_no_top.h5") if not (models / name).exists()]
    if not missing:
        return None
    return (f"{', '.join(missing)} missing in {models}: point KERAS_HOME at a copy of a Keras cache holding the "
            "MobileNet(alpha=0.75 and 0.25) ImageNet weights (README, 'Working offline'); "
            ".ci/run does this from ../shared")


def _flowers_missing() -> str | None:
    """Why the flower photos cannot be read without a download, or None when they can."""
    source = os.environ.get(FLOWERS_ENV)
    if source:
        return None if Path(source).expanduser().is_dir() else f"{FLOWERS_ENV}={source} is not a folder"
    if (keras_cache_dir() / "datasets" / "flower_photos").exists():
        return None
    return (f"the flower photos are not available offline: set {FLOWERS_ENV} to the extracted flower_photos folder "
            "(README, 'Working offline'); .ci/run does this from ../shared")


#: What a notebook's metadata may require, and how to tell why it is missing (None: present).
REQUIREMENTS = {"cifar10": _cifar10_missing, "imagenet_weights": _imagenet_weights_missing,
                "flowers": _flowers_missing}


def pytest_configure(config):
    config.pluginmanager.register(CleanNotebookOutputs(), "clean-notebook-outputs")
    config.addinivalue_line("markers", "needs_cifar10: needs CIFAR-10 without downloading it")
    config.addinivalue_line("markers", "needs_imagenet_weights: needs the offline backbone's weights in the cache")
    config.addinivalue_line("markers", "needs_flowers: needs the flower photos without downloading them")


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


#: What a notebook cell may print on stderr: the warnings a learner can act on (files left out of a data set).
ALLOWED_STDERR = ("UnreadableImagesWarning",)


def stderr_noise(outputs) -> list[str]:
    """The texts of a cell's outputs that a learner would see as noise: stderr (a red box) or TensorFlow's
    retracing warning, except the warnings in :data:`ALLOWED_STDERR`."""
    return [out.get("text", "") for out in outputs if out.get("output_type") == "stream"
            and (out.get("name") == "stderr" or "tf.function retracing" in out.get("text", ""))
            and out.get("text", "").strip() and not any(word in out["text"] for word in ALLOWED_STDERR)]


class CleanNotebookOutputs:
    """A notebook cell (run by nbval) fails when it prints on stderr - the red box a learner would see - or shows
    TensorFlow's retracing warning, unless what it prints is a warning the learner can act on. Registered as a
    plugin (``pytest_configure``), because this folder's hooks would only reach the items under ``tests/``."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        outputs = getattr(item, "test_outputs", None)
        if report.when != "call" or not report.passed or not outputs:
            return
        noise = stderr_noise(outputs)
        if noise:
            report.outcome = "failed"
            report.longrepr = ("this cell shows a stderr box (or a retracing warning) a learner cannot act on:\n"
                               + "\n".join(text[-2000:] for text in noise))


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


def ctrl_c_when(args, marker: str, timeout: float = 180) -> tuple[int, str]:
    """Run ``python -m utils *args`` (quick mode) in a fresh process, send it a real Ctrl-C (SIGINT) when a line of
    its output starts with ``marker``, and return its exit status and all it printed. A suite started in the
    background inherits SIGINT ignored, so the child restores Python's handler first, as a terminal would have
    it (in the child itself: a preexec_fn in this multi-threaded process crashed the child on Python 3.12)."""
    ctrl_c_able = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('utils', run_name='__main__', alter_sys=True)")
    process = subprocess.Popen([sys.executable, "-c", ctrl_c_able, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "QUICK": "1", "PYTHONUNBUFFERED": "1"})
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith(marker):
                process.send_signal(signal.SIGINT)
                break
        out = "".join(lines) + process.communicate(timeout=timeout)[0]
    finally:
        process.kill()
    return process.returncode, out
