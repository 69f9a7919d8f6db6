"""Project hygiene: clean, linted notebooks that open and run the same way; README and CI in step; a real lock."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import stderr_noise
from IPython.core.inputtransformer2 import TransformerManager
from nbformat.v4 import new_output

from utils.cli.run_notebooks import SETTINGS_TAG
from utils.settings import GITHUB_REPOSITORY, REPO_ROOT, colab_url

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
    code = "\n".join(cell.source for cell in _cells(path) if cell.cell_type == "code")
    assert "import utils" in code
    assert "sys.path" not in code and "PYTHONPATH" not in code


def _cells(path):
    return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4).cells


def _python(source: str) -> ast.Module:
    """A code cell as Python (IPython's `!command` and `%magic` lines turned into calls)."""
    return ast.parse(TransformerManager().transform_cell(source))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_index_lists_every_notebook_with_badge_and_times(path):
    row = next((line for line in README.splitlines() if f"(notebooks/{path.name})" in line), None)
    assert row, f"README's notebook table has no row for {path.name}"
    assert f"({colab_url(path)})" in row, f"README: the Colab badge of {path.name} should link {colab_url(path)}"
    assert re.search(r"quick mode \d", row) and re.search(r"full mode \d", row), "measured run times in the row"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_title_colab_badge_and_measured_times(path):
    title = _cells(path)[0]
    assert title.cell_type == "markdown" and title.source.startswith(f"# {path.name[:2]} · ")
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"
    assert badge in title.source, f"{path.name}: the first cell needs the Colab badge linking its own path"
    assert re.search(r"\*\*Time\*\*.*quick mode \d.*full mode \d", title.source, re.S), (
        f"{path.name}: say how long it takes, quick and full mode, measured")
    assert "TBD" not in title.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_a_short_setup_that_works_locally_and_in_colab(path):
    setup = next(cell for cell in _cells(path) if cell.cell_type == "code")
    assert setup.id == "setup"
    assert 'if "google.colab" in sys.modules:' in setup.source and "%cd /content/" in setup.source
    assert f"https://github.com/{GITHUB_REPOSITORY}" in setup.source, "Colab clones the repository of the badge"
    assert "import utils" in setup.source and setup.source.rstrip().endswith("utils.setup()")
    assert len(setup.source.splitlines()) <= 10, "the installing and reporting is in utils.setup()"
    _python(setup.source)  # valid once IPython has turned the magics into calls


#: What a reader must see, as code, in the training notebooks (the lesson is in the notebook).
LESSON = {
    "02_cnn_step_by_step.ipynb": ["layers.Conv2D(", "conv.kernel.assign(", "def output_size(", "count_params()",
                                  "layers.MaxPooling2D(", "keras.Sequential(", "keras.Input(", ".compile(", ".fit(",
                                  "def augmented_batches(", "layers.BatchNormalization(", "def learning_rate_at(",
                                  "class ScaledSGD(", "label_smoothing=", "def patch_whitening_kernel(",
                                  "def identity_init(", "class Lookahead(", "def tta_model(", "RECIPE = {",
                                  "def recipe_cnn(", "keras.Model(", "def train(", "keras.optimizers.Adam("],
    "03_fast_recipe_cifar10.ipynb": ["cnn.recipe_cnn(", "cnn.ScaledSGD(", "scales={", "label_smoothing=",
                                     "LambdaCallback(", ".compile(", "TimeBudget(", "cnn.Lookahead(",
                                     "cnn.augmented_batches(", ".fit(", "cnn.tta_model(", "calibrate(",
                                     "confusion_matrix(", "save_model("],
    "04_transfer_learning.ipynb": ["backbone.trainable = False", "backbone(x, training=False)", "layers.Dense(",
                                   "layers.BatchNormalization", "layer.trainable =", ".compile(", ".fit(",
                                   "keras.optimizers.Adam(learning_rate)", "initial_epoch="],
}


@pytest.mark.parametrize("name", LESSON)
def test_the_lesson_is_code_in_the_notebook(name):
    code = "\n".join(cell.source for cell in _cells(REPO_ROOT / "notebooks" / name) if cell.cell_type == "code")
    missing = [piece for piece in LESSON[name] if piece not in code]
    assert not missing, f"{name}: a reader should see {missing} in its code cells, not only in utils"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_settings_cell_holds_every_upper_case_setting(path):
    cells = _cells(path)
    settings = [cell for cell in cells if SETTINGS_TAG in cell.metadata.get("tags", [])]
    assert len(settings) == 1 and settings[0].cell_type == "code" and settings[0].id == "settings", (
        f"{path.name}: exactly one code cell, id 'settings', tagged {SETTINGS_TAG!r}")
    for cell in cells:
        if cell.cell_type != "code" or cell.id in ("settings", "setup") or cell.source.startswith("#@save"):
            continue  # (a #@save cell's upper-case names are constants of its generated module, e.g. RECIPE)
        assert "by_mode(" not in cell.source, f"{path.name}, cell {cell.id}: a by_mode() knob belongs in the settings"
        for node in _python(cell.source).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            assert not [n for n in names if n.isupper()], (
                f"{path.name}, cell {cell.id}: {names} looks like a setting; move it to the settings cell")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_try_this_exercises(path):
    last = _cells(path)[-1]
    assert last.cell_type == "markdown" and "## Try this" in last.source, f"{path.name} should end with 'Try this'"
    exercises = last.source.split("## Try this", 1)[1]
    assert len(re.findall(r"^\* ", exercises, re.M)) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_reports_a_headline(path):
    code = "\n".join(cell.source for cell in _cells(path) if cell.cell_type == "code")
    assert "utils.headline(" in code, f"{path.name}: report the headline metric with utils.headline()"


def test_ruff_finds_nothing_in_utils_tests_and_notebooks():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "utils", "tests", "notebooks"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff check utils tests notebooks:\n{result.stdout}{result.stderr}"


#: Keras 2 / tf.keras idioms the collection does not use, and what to write instead.
DEPRECATED = {
    r"\bImageDataGenerator\b": "keras.utils.image_dataset_from_directory and augmentation layers",
    r"\btf\.keras\b": "import keras (Keras 3)",
    r"\bkeras\.preprocessing\.image\b": "keras.utils.load_img / image_dataset_from_directory",
}


def _code_sources():
    """(name, source) of every Python file in utils/ and tests/ and every notebook code cell."""
    this = Path(__file__).resolve()
    for path in sorted([*(REPO_ROOT / "utils").rglob("*.py"), *(REPO_ROOT / "tests").rglob("*.py")]):
        if path.resolve() != this:  # this file names the deprecated paths in order to find them
            yield str(path.relative_to(REPO_ROOT)), path.read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        for cell in _cells(path):
            if cell.cell_type == "code":
                yield f"{path.relative_to(REPO_ROOT)} cell {cell.id}", TransformerManager().transform_cell(cell.source)


def test_the_deprecated_keras_paths_are_found_by_this_test():
    sample = "from tf.keras.preprocessing.image import ImageDataGenerator\nkeras.preprocessing.image.load_img"
    assert all(re.search(pattern, sample) for pattern in DEPRECATED)
    assert _layers_with_input_shape("layers.Dense(3, input_shape=(4,))\nbuild(input_shape=(4,))") == ["Dense"]


def _layers_with_input_shape(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and any(k.arg == "input_shape" for k in node.keywords):
            name = ast.unparse(node.func)
            if name.startswith("layers.") or ".layers." in name:
                found.append(name.rsplit(".", 1)[-1])
    return found


def test_no_deprecated_keras_paths():
    problems = []
    for name, source in _code_sources():
        for pattern, instead in DEPRECATED.items():
            problems += [f"{name}: {match.group()} (use {instead})" for match in re.finditer(pattern, source)]
        problems += [f"{name}: {layer}(input_shape=...) (start the model with keras.Input(shape=...))"
                     for layer in _layers_with_input_shape(source)]
    assert not problems, "\n".join(problems)


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


def test_the_notebooks_library_never_imports_the_command_line():
    """utils/cli/ is the command line's own; the rest of utils (what the notebooks import) does not depend on it."""
    offenders = []
    for path in sorted((REPO_ROOT / "utils").glob("*.py")):
        if path.name == "__main__.py":  # `python -m utils` is the command line's entry point
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
                if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {name}" for name in names
                          if name == "utils.cli" or name.startswith("utils.cli.")]
    assert not offenders, offenders


def test_a_notebook_cell_that_prints_on_stderr_fails_the_run():
    assert stderr_noise([new_output("stream", name="stderr", text="I0000 oneDNN custom operations are on")])
    assert stderr_noise([new_output("stream", name="stdout", text="WARNING:tensorflow:5 out of the last 5 calls "
                                    "... triggered tf.function retracing")])
    assert not stderr_noise([new_output("stream", name="stdout", text="Epoch 1/3"),
                             new_output("stream", name="stderr", text="UnreadableImagesWarning: broken.jpg")])
