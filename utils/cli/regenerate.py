"""``python -m utils regenerate``: the code a notebook teaches, shared with the command line.

As in the book *Dive into Deep Learning*, the code a reader learns from is written in the notebook, where it is
explained and can be edited, and the code cells whose first line is ``#@save`` are also written, in order, to a
module of ``utils``: notebook 02's to ``utils/cnn.py``, notebook 04's to ``utils/transfer.py``. Notebook 03 and
``python -m utils train`` import those modules, so they run exactly the code the notebooks show.

Each generated module says at its top which notebook it comes from, marks every block with the cell it came
from, and lists its public names in ``__all__``. After editing a ``#@save`` cell, run ``python -m utils
regenerate``; ``--check`` (and the test suite) fails while a module differs from its notebook.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from utils.settings import REPO_ROOT

SAVE_MARK = "#@save"


@dataclass(frozen=True)
class Generated:
    """One notebook whose ``#@save`` cells make one module."""

    notebook: str  # file name in notebooks/
    module: str  # file name in utils/
    summary: str  # the module docstring's first lines

    @property
    def notebook_path(self) -> Path:
        return REPO_ROOT / "notebooks" / self.notebook

    @property
    def module_path(self) -> Path:
        return REPO_ROOT / "utils" / self.module


MODULES = (
    Generated("02_cnn_step_by_step.ipynb", "cnn.py",
              "The CNNs of notebook 02 and every ingredient of the modern recipe: the baseline, augmentation, the\n"
              "recipe's optimizers (SGD and Muon), whitening, identity initialisation, lookahead, test-time\n"
              "augmentation, the network and its training."),
    Generated("04_transfer_learning.ipynb", "transfer.py",
              "Transfer learning as notebook 04 teaches it: a new head on a frozen ImageNet backbone, then\n"
              "fine-tuning its top blocks with batch normalisation kept frozen."),
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "regenerate", help="write the #@save cells of notebooks 02 and 04 to utils/cnn.py and utils/transfer.py",
        description="Write the code cells marked #@save of notebooks 02 and 04 to utils/cnn.py and "
                    "utils/transfer.py, which notebook 03 and the train command run. With --check, write nothing "
                    "and exit 1 if a module differs from its notebook.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a module differs from its notebook")
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.check:
        stale = stale_modules()
        for path in stale:
            print(f"{path} differs from the #@save cells of its notebook: run python -m utils regenerate",
                  file=sys.stderr)
        return 1 if stale else 0
    changed = regenerate_all()
    for item in MODULES:
        print(f"notebooks/{item.notebook} -> utils/{item.module}: "
              f"{'written' if item.module_path in changed else 'unchanged'}")
    return 0


def saved_cells(notebook_path) -> list[tuple[str, str]]:
    """``(cell id, source without the mark line)`` of the notebook's code cells marked ``#@save``, in order."""
    notebook = nbformat.read(notebook_path, as_version=4)
    cells = []
    for cell in notebook.cells:
        first, _, rest = cell.source.partition("\n")
        if cell.cell_type == "code" and first.strip().startswith(SAVE_MARK):
            cells.append((cell.get("id", "?"), rest.strip("\n")))
    return cells


def public_names(source: str) -> list[str]:
    """The names a module's code defines at its top level that do not start with ``_`` (classes, functions,
    constants), in order: its ``__all__``."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return [name for name in names if not name.startswith("_")]


def render(item: Generated) -> str:
    """The module text: a docstring naming its notebook, the first saved cell (by convention its imports),
    ``__all__``, then the other saved cells, each block headed by a comment naming the cell it comes from."""
    cells = saved_cells(item.notebook_path)
    if not cells:
        raise ValueError(f"{item.notebook} has no code cell whose first line is {SAVE_MARK}")
    names = sorted(public_names("\n\n".join(source for _, source in cells)), key=lambda name: (
        not name.isupper(), not name[:1].isupper(), name))  # constants, classes, functions, as ruff sorts them
    docstring = (f'"""{item.summary}\n\n'
                 f"GENERATED from the cells marked ``{SAVE_MARK}`` in notebooks/{item.notebook} by\n"
                 "``python -m utils regenerate``: do not edit this file - edit the notebook, then run that command\n"
                 '(the tests fail while this file and the notebook differ).\n"""\n')
    blocks = [f"# --- notebooks/{item.notebook}, cell {cell_id} ---\n{source}" for cell_id, source in cells]
    listing = "__all__ = [\n" + "".join(f'    "{name}",\n' for name in names) + "]"
    # one blank line after the imports (as isort puts it), two between the other blocks
    return docstring + "\n" + blocks[0] + "\n\n" + "\n\n\n".join([listing, *blocks[1:]]) + "\n"


def stale_modules() -> list[Path]:
    """The generated modules whose text differs from what their notebooks' ``#@save`` cells give."""
    return [item.module_path for item in MODULES
            if not item.module_path.exists() or item.module_path.read_text(encoding="utf-8") != render(item)]


def regenerate_all() -> list[Path]:
    """Write every generated module again; returns those whose text changed."""
    changed = stale_modules()
    for item in MODULES:
        if item.module_path in changed:
            item.module_path.write_text(render(item), encoding="utf-8")
    return changed
