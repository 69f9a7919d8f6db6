"""python -m utils: the commands run and fail with one clear line."""

import os
import subprocess
import sys

from utils.settings import REPO_ROOT


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "utils", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, env={**os.environ, **(env or {})}, timeout=300)


def test_info_reports_the_environment():
    result = run("info", env={"QUICK": "1"})
    assert result.returncode == 0, result.stderr
    for label in ("tensorflow", "keras", "accelerator", "quick mode", "CIFAR-10 from"):
        assert label in result.stdout
    assert "on (QUICK=1)" in result.stdout


def test_cifar10_with_a_missing_copy_fails_with_one_line(tmp_path):
    result = run("cifar10", "--source", str(tmp_path / "missing.tar.gz"))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "missing.tar.gz does not exist" in errors[0]
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error():
    result = run("fly")
    assert result.returncode == 2 and "invalid choice" in result.stderr
