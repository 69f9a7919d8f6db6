"""The code the notebooks teach and the code the command line runs are one: utils/cnn.py and utils/transfer.py
are the notebooks' #@save cells, and the models they build are the same, layer for layer."""

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utils.cli import main, regenerate


@pytest.mark.parametrize("item", regenerate.MODULES, ids=lambda e: e.module)
def test_generated_module_is_the_notebooks_saved_cells(item):
    text = item.module_path.read_text(encoding="utf-8")
    assert text == regenerate.render(item), (
        f"utils/{item.module} differs from the #@save cells of notebooks/{item.notebook}: "
        "run `python -m utils regenerate` after editing the notebook (never edit the module by hand)")
    assert f"GENERATED from the cells marked ``#@save`` in notebooks/{item.notebook}" in text
    module = __import__(f"utils.{item.module[:-3]}", fromlist=["__all__"])
    assert module.__all__ and all(hasattr(module, name) for name in module.__all__)


def notebook_namespace(item):
    """What the notebook's #@save cells define when a reader runs them."""
    namespace = {}
    for _, source in regenerate.saved_cells(item.notebook_path):
        exec(compile(source, item.notebook, "exec"), namespace)
    return namespace


def layer_configs(model):
    return [(type(layer).__name__, layer.get_config()) for layer in model.layers]


def test_notebook_02_and_the_train_command_build_the_same_models():
    from utils import cnn

    cells = notebook_namespace(regenerate.MODULES[0])
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    assert layer_configs(cells["baseline_cnn"]()) == layer_configs(cnn.baseline_cnn())
    assert cells["RECIPE"] == cnn.RECIPE and cells["BASELINE"] == cnn.BASELINE
    notebook, command = cells["recipe_cnn"](images), cnn.recipe_cnn(images)
    assert layer_configs(notebook) == layer_configs(command)
    np.testing.assert_array_equal(notebook.get_layer("stem").get_weights()[0],
                                  command.get_layer("stem").get_weights()[0])
    assert [cells["learning_rate_at"](p, p * 10) for p in (0, 0.05, 0.5, 1)] == [
        cnn.learning_rate_at(p, p * 10) for p in (0, 0.05, 0.5, 1)]


def test_notebook_04_and_the_module_build_the_same_classifier():
    from utils import transfer

    cells = notebook_namespace(regenerate.MODULES[1])
    args = ("mobilenet_v1_025", 3, (32, 32, 3), 64)
    notebook, notebook_backbone = cells["build_classifier"](*args, weights=None)
    module, module_backbone = transfer.build_classifier(*args, weights=None)
    assert [type(layer).__name__ for layer in notebook.layers] == [type(layer).__name__ for layer in module.layers]
    # every layer the same but the backbone, whose inner input layer gets a new automatic name per build
    assert [c for c in layer_configs(notebook) if c[0] != "Functional"] == [
        c for c in layer_configs(module) if c[0] != "Functional"]
    assert notebook_backbone.name == module_backbone.name and len(notebook_backbone.layers) == len(
        module_backbone.layers)


def test_render_takes_marked_cells_in_order_says_where_each_comes_from_and_lists_all(tmp_path, monkeypatch):
    nb = new_notebook()
    nb.cells = [new_markdown_cell("#@save is not code here"), new_code_cell("#@save\nimport os"),
                new_code_cell("x = 1"), new_code_cell("#@save  (for the command line)\n\ndef f():\n    return 1\n"),
                new_code_cell("#@save\nLIMIT = 3\n_hidden = 4\n\n\nclass Box:\n    pass")]
    for number, cell in enumerate(nb.cells):
        cell.id = f"c{number}"
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "utils").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "nb.ipynb")
    assert [source for _, source in regenerate.saved_cells(tmp_path / "notebooks" / "nb.ipynb")] == [
        "import os", "def f():\n    return 1", "LIMIT = 3\n_hidden = 4\n\n\nclass Box:\n    pass"]
    monkeypatch.setattr(regenerate, "REPO_ROOT", tmp_path)
    text = regenerate.render(regenerate.Generated("nb.ipynb", "mod.py", "Test module."))
    assert text.startswith('"""Test module.\n')
    assert "GENERATED from the cells marked ``#@save`` in notebooks/nb.ipynb" in text
    assert "# --- notebooks/nb.ipynb, cell c1 ---\nimport os\n" in text and "cell c3 ---\ndef f():" in text
    assert '__all__ = [\n    "LIMIT",\n    "Box",\n    "f",\n]' in text
    namespace = {}
    exec(compile(text, "mod.py", "exec"), namespace)
    assert namespace["f"]() == 1 and namespace["LIMIT"] == 3
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), tmp_path / "notebooks" / "none.ipynb")
    with pytest.raises(ValueError, match="no code cell whose first line is #@save"):
        regenerate.render(regenerate.Generated("none.ipynb", "none.py", "x"))


def test_regenerate_command_writes_and_check_fails_on_drift(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "utils").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("#@save\nVALUE = 1")]), tmp_path / "notebooks" / "nb.ipynb")
    monkeypatch.setattr(regenerate, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(regenerate, "MODULES", (regenerate.Generated("nb.ipynb", "mod.py", "Test module."),))
    assert main(["regenerate", "--check"]) == 1 and "run python -m utils regenerate" in capsys.readouterr().err
    assert main(["regenerate"]) == 0 and "written" in capsys.readouterr().out
    assert main(["regenerate", "--check"]) == 0
    assert "VALUE = 1\n" in (tmp_path / "utils" / "mod.py").read_text()
