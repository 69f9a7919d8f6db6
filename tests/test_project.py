"""Project hygiene: clean notebooks, README and CI in step, a real lock file."""

import re
import subprocess

import nbformat
import pytest

from utils.settings import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_there_are_notebooks_and_the_setup_check_comes_first():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_setup_check.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean_and_canonical(path):
    text = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: cell {cell.get('id')} has outputs; run "
                f"`jupyter nbconvert --clear-output --inplace {path.relative_to(REPO_ROOT)}`")
    canonical = nbformat.writes(notebook)
    assert text.rstrip("\n") == canonical.rstrip("\n"), f"{path.name} is not in nbformat's standard layout"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_utils_without_path_hacks(path):
    cells = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4).cells
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    assert "import utils" in code
    assert "sys.path" not in code and "PYTHONPATH" not in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_lists_every_notebook(path):
    assert f"(notebooks/{path.name})" in README


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    awk = re.search(r"command=\$\((awk .*README\.md)\)", ci)
    assert awk, ".ci/run should read the test command from README.md"
    command = subprocess.run(["bash", "-c", awk.group(1)], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt")
    assert command.endswith("QUICK=1 .venv/bin/python -m pytest")
    assert 'eval "$command"' in ci


def test_requirements_lock_pins_everything_in_requirements_in():
    lock = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#") and line != "-e .":
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            lock[name.lower().replace("_", "-")] = version
    assert "-e ." in (REPO_ROOT / "requirements.txt").read_text().splitlines()
    for line in (REPO_ROOT / "requirements.in").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            locked = lock.get(name.lower())
            assert locked == version, f"{name} is {version} in requirements.in but {locked} in the lock"
