"""The code the notebooks teach and the code the command line runs are one: utils/cnn.py and utils/transfer.py
are the notebooks' #@save cells, and the models they build are the same, layer for layer."""

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utils import export
from utils.__main__ import main


@pytest.mark.parametrize("item", export.EXPORTS, ids=lambda e: e.module)
def test_generated_module_is_the_notebooks_saved_cells(item):
    text = item.module_path.read_text(encoding="utf-8")
    assert text == export.render(item), (
        f"utils/{item.module} differs from the #@save cells of notebooks/{item.notebook}: "
        "run `python -m utils export` after editing the notebook (never edit the module by hand)")


def notebook_namespace(item):
    """What the notebook's #@save cells define when a reader runs them."""
    namespace = {}
    for source in export.saved_cells(item.notebook_path):
        exec(compile(source, item.notebook, "exec"), namespace)
    return namespace


def layer_configs(model):
    return [(type(layer).__name__, layer.get_config()) for layer in model.layers]


def test_notebook_02_and_the_train_command_build_the_same_models():
    from utils import cnn

    cells = notebook_namespace(export.EXPORTS[0])
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

    cells = notebook_namespace(export.EXPORTS[1])
    args = ("mobilenet_v1_025", 3, (32, 32, 3), 64)
    notebook, notebook_backbone = cells["build_classifier"](*args, weights=None)
    module, module_backbone = transfer.build_classifier(*args, weights=None)
    assert [type(layer).__name__ for layer in notebook.layers] == [type(layer).__name__ for layer in module.layers]
    # every layer the same but the backbone, whose inner input layer gets a new automatic name per build
    assert [c for c in layer_configs(notebook) if c[0] != "Functional"] == [
        c for c in layer_configs(module) if c[0] != "Functional"]
    assert notebook_backbone.name == module_backbone.name and len(notebook_backbone.layers) == len(
        module_backbone.layers)


def test_render_takes_marked_cells_in_order_and_refuses_a_notebook_without_any(tmp_path, monkeypatch):
    nb = new_notebook()
    nb.cells = [new_markdown_cell("#@save is not code here"), new_code_cell("#@save\nimport os"),
                new_code_cell("x = 1"), new_code_cell("#@save  (for the command line)\n\ndef f():\n    return 1\n")]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    assert export.saved_cells(tmp_path / "nb.ipynb") == ["import os", "def f():\n    return 1"]
    monkeypatch.setattr(export, "REPO_ROOT", tmp_path)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "utils").mkdir()
    item = export.Export("nb.ipynb", "mod.py", "Test module.")
    (tmp_path / "nb.ipynb").rename(tmp_path / "notebooks" / "nb.ipynb")
    text = export.render(item)
    assert text.startswith('"""Test module.\n') and "import os\n\n\ndef f():\n    return 1\n" in text
    compile(text, "mod.py", "exec")
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), tmp_path / "notebooks" / "none.ipynb")
    with pytest.raises(ValueError, match="no code cell whose first line is #@save"):
        export.render(export.Export("none.ipynb", "none.py", "x"))


def test_export_command_writes_and_check_fails_on_drift(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "utils").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("#@save\nVALUE = 1")]), tmp_path / "notebooks" / "nb.ipynb")
    monkeypatch.setattr(export, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(export, "EXPORTS", (export.Export("nb.ipynb", "mod.py", "Test module."),))
    assert main(["export", "--check"]) == 1 and "run python -m utils export" in capsys.readouterr().err
    assert main(["export"]) == 0 and "written" in capsys.readouterr().out
    assert main(["export", "--check"]) == 0
    assert (tmp_path / "utils" / "mod.py").read_text().endswith("VALUE = 1\n")
