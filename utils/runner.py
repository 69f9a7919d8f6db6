"""Run the notebooks headless: ``python -m utils run-notebooks [--quick] [NAME ...]``.

Each notebook runs in a fresh kernel of this Python environment (the one that runs this command), in
order, with its folder as the working directory, exactly as Jupyter would run it. The executed copies
(outputs included) go to a git-ignored folder; the sources in ``notebooks/`` are never changed.

Conventions the notebooks follow, which this module relies on:

* the **settings cell** is the code cell tagged ``parameters`` (papermill's convention): ``--set NAME=VALUE``
  replaces the assignment ``NAME = ...`` in it, so values computed from it later in the cell follow;
* a notebook reports its **headline metric** with :func:`headline`, which prints one
  ``Headline: <label> = <value>`` line that the summary table picks up;
* a cell tagged ``figure:<name>`` has its PNG output saved as ``<name>.png`` by ``--figures DIR``
  (the figures the README shows).

nbformat and nbclient are imported only when notebooks are run, so ``import utils`` stays light.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from utils.evaluation import format_value
from utils.settings import REPO_ROOT, quick_mode

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

#: Where executed copies go (``build/`` is git-ignored).
DEFAULT_OUTPUT_DIR = REPO_ROOT / "build" / "notebooks"

SETTINGS_TAG = "parameters"
FIGURE_TAG_PREFIX = "figure:"
_HEADLINE = re.compile(r"^Headline: (?P<text>.+)$", re.MULTILINE)


def headline(label: str, value) -> None:
    """Print a notebook's headline metric, e.g. ``headline("test accuracy", 0.859)``.

    The line reads ``Headline: test accuracy = 0.8590``; ``python -m utils run-notebooks`` shows it
    in its summary table; the value is shown as in the notebooks' tables (``format_value``). Returns nothing, so that
    as a cell's last line it adds no ``Out[]`` echo.
    """
    print(f"Headline: {label} = {format_value(value)}")


class NotebookNotFound(ValueError):
    """A NAME given to run-notebooks matches no notebook (or several)."""


@dataclass
class NotebookRun:
    """What running one notebook gave: where its executed copy is, how long it took, how it ended."""

    name: str
    seconds: float
    status: str  # "ok" or "failed: <error>"
    headline: str | None
    output: Path
    figures: list[Path] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def find_notebooks(names=(), folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks to run, in the collection's order: all of them, or those that ``names`` pick.

    A name may be the number (``02``), the file name with or without ``.ipynb``, or a path.
    """
    available = sorted(Path(folder).glob("*.ipynb"))
    if not names:
        return available
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.is_file():
            matches = [path.resolve()]
        else:
            stem = path.name.removesuffix(".ipynb")
            matches = [p for p in available if p.stem == stem or p.stem.split("_")[0] == stem]
        if len(matches) != 1:
            listing = ", ".join(p.stem for p in available)
            how = "matches several" if matches else "matches no notebook"
            raise NotebookNotFound(f"{name!r} {how}; choose from: {listing} (or their numbers)")
        chosen += [m for m in matches if m not in chosen]
    return sorted(chosen, key=lambda p: (p.name, str(p)))


def parse_assignments(pairs) -> dict[str, str]:
    """``["EPOCHS=3", "BACKBONE=mobilenet_v1_025"]`` -> ``{"EPOCHS": "3", "BACKBONE": "'mobilenet_v1_025'"}``.

    Values are Python literals (``3``, ``0.5``, ``None``, ``"text"``, ``[1, 2]``); anything else is
    taken as a string, so quoting plain words is optional.
    """
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"--set {pair!r}: write NAME=VALUE, e.g. --set EPOCHS=3")
        try:
            ast.literal_eval(value)
            settings[name] = value.strip()
        except (ValueError, SyntaxError):
            settings[name] = repr(value)
    return settings


def settings_cell(notebook):
    """The notebook's settings cell (the code cell tagged ``parameters``), or None."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and SETTINGS_TAG in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def settings_names(notebook) -> set[str]:
    """Names assigned at the top level of the settings cell."""
    cell = settings_cell(notebook)
    if cell is None:
        return set()
    return {target.id for node in _top_level_assignments(cell.source) for target in _targets(node)}


def apply_settings(notebook, settings: dict[str, str]) -> dict[str, str]:
    """Replace ``NAME = ...`` in the settings cell for each NAME it assigns; return those applied."""
    cell = settings_cell(notebook)
    if cell is None or not settings:
        return {}
    lines = cell.source.split("\n")
    applied = {}
    # from the bottom up, so earlier line numbers stay valid
    for node in sorted(_top_level_assignments(cell.source), key=lambda n: n.lineno, reverse=True):
        names = [t.id for t in _targets(node)]
        if len(names) == 1 and names[0] in settings:
            name = names[0]
            lines[node.lineno - 1:node.end_lineno] = [f"{name} = {settings[name]}  # set by run-notebooks"]
            applied[name] = settings[name]
    cell.source = "\n".join(lines)
    return applied


def _top_level_assignments(source: str):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))]


def _targets(node):
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t for t in targets if isinstance(t, ast.Name)]


def find_headline(notebook) -> str | None:
    """The last ``Headline: ...`` line printed by the executed notebook."""
    found = None
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                for match in _HEADLINE.finditer(output.get("text", "")):
                    found = match.group("text").strip()
    return found


def save_figures(notebook, folder: Path) -> list[Path]:
    """Write the PNG outputs of cells tagged ``figure:<name>`` to ``folder/<name>.png`` (``<name>-2.png``...)."""
    saved = []
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        for tag in tags:
            if not tag.startswith(FIGURE_TAG_PREFIX):
                continue
            name = tag.removeprefix(FIGURE_TAG_PREFIX)
            pngs = [out["data"]["image/png"] for out in cell.get("outputs", [])
                    if "image/png" in out.get("data", {})]
            for number, png in enumerate(pngs, start=1):
                path = Path(folder) / (f"{name}.png" if number == 1 else f"{name}-{number}.png")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(png))
                saved.append(path)
    return saved


def _kernel_manager():
    """A kernel manager whose kernel is this very Python environment (as nbval's --nbval-current-env)."""
    import ipykernel.kernelspec
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    class _CurrentEnvironment(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    return KernelManager(kernel_name="python3", kernel_spec_manager=_CurrentEnvironment())


class _Progress:
    """One line per notebook that updates in place on a terminal; a line per code cell in a log."""

    def __init__(self, label: str, total: int, stream=None):
        self.label, self.total, self.start = label, total, time.perf_counter()
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.done = 0

    def cell_done(self, cell, **_):
        if cell.cell_type != "code":
            return
        self.done += 1
        text = f"{self.label}  cell {self.done}/{self.total}  {time.perf_counter() - self.start:.0f} s"
        if self.live:
            print(f"\r{text}", end="", file=self.stream, flush=True)
        else:
            print(f"  {text}", file=self.stream, flush=True)

    def finish(self, status: str):
        end = "\n" if self.live else ""
        print(f"{end}{self.label}  {status} in {time.perf_counter() - self.start:.0f} s", file=self.stream,
              flush=True)


def run_notebook(path: Path, output_dir: Path = DEFAULT_OUTPUT_DIR, settings: dict[str, str] | None = None,
                 figures_dir: Path | None = None, cell_timeout: int | None = None, label: str | None = None,
                 ) -> NotebookRun:
    """Execute one notebook in a fresh kernel; write the executed copy (also when a cell fails).

    The copy is ``output_dir/<name>.ipynb``; the kernel process's own output (TensorFlow's C++ log)
    goes to ``output_dir/<name>.kernel.log``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    applied = apply_settings(notebook, settings or {})
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    progress = _Progress(label or path.stem, code_cells)
    client = NotebookClient(notebook, km=_kernel_manager(), timeout=cell_timeout, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent)}}, on_cell_executed=progress.cell_done)
    output = Path(output_dir) / path.name
    output.parent.mkdir(parents=True, exist_ok=True)
    outcome = {}

    def execute():
        # the kernel's own stdout/stderr (TensorFlow's C++ log, not the cells' output) go to a log file
        with open(output.with_suffix(".kernel.log"), "w", encoding="utf-8") as kernel_log:
            try:
                client.execute(cleanup_kc=True, stdout=kernel_log, stderr=kernel_log)  # shuts the kernel down after
                outcome["status"] = "ok"
            except CellExecutionError as err:
                outcome["status"] = f"failed: {_first_error_line(err)}"
            except Exception as err:  # a dead or stuck kernel
                outcome["status"] = f"failed: {type(err).__name__}: {(str(err).splitlines() or [''])[0]}"

    # The notebook runs in a worker thread so that Ctrl-C reaches this one (nbclient's own handling of it
    # only acts once the running cell ends): on Ctrl-C the kernel is killed and the command stops.
    start = time.perf_counter()
    worker = threading.Thread(target=execute, name=f"run {path.stem}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        process = getattr(getattr(client.km, "provisioner", None), "process", None)
        if process is not None:
            process.kill()
        worker.join(30)
        nbformat.write(notebook, output)
        progress.finish("interrupted")
        raise
    seconds = time.perf_counter() - start
    status = outcome.get("status", "failed: the notebook did not finish")
    progress.finish(status)
    nbformat.write(notebook, output)
    figures = save_figures(notebook, figures_dir) if figures_dir is not None and status == "ok" else []
    return NotebookRun(path.stem, seconds, status, find_headline(notebook), output, figures, applied)


def _first_error_line(err) -> str:
    ename, evalue = getattr(err, "ename", ""), getattr(err, "evalue", "")
    if ename:
        return f"{ename}: {evalue.splitlines()[0] if evalue else ''}".strip()
    return str(err).strip().splitlines()[-1]


def run_notebooks(paths, output_dir: Path = DEFAULT_OUTPUT_DIR, settings: dict[str, str] | None = None,
                  figures_dir: Path | None = None, cell_timeout: int | None = None) -> list[NotebookRun]:
    """Run the notebooks in order, each in a fresh kernel, and write ``summary.json`` beside the copies.

    Every NAME in ``settings`` must be a setting of at least one of the notebooks (a typo is an error,
    not silently ignored).
    """
    import nbformat

    settings = settings or {}
    known = set().union(*(settings_names(nbformat.read(p, as_version=4)) for p in paths)) if paths else set()
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"--set {', '.join(unknown)}: no such setting in the settings cell of "
                         f"{', '.join(Path(p).stem for p in paths)}")
    runs = []
    for number, path in enumerate(paths, start=1):
        runs.append(run_notebook(path, output_dir, settings, figures_dir, cell_timeout,
                                 label=f"[{number}/{len(paths)}] {Path(path).stem}"))
    write_summary(runs, Path(output_dir) / "summary.json")
    return runs


def write_summary(runs: list[NotebookRun], path: Path) -> None:
    """The runs as JSON: mode, machine, and per notebook seconds, status, headline and settings changed."""
    import platform
    from importlib import metadata

    summary = {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": "quick" if quick_mode() else "full",
        # without importing TensorFlow here; each executed copy's setup cell shows the GPU, if any
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpu cores": os.cpu_count(), "tensorflow": metadata.version("tensorflow"),
                    "keras": metadata.version("keras")},
        "notebooks": [{"name": run.name, "seconds": round(run.seconds, 1), "status": run.status,
                       "headline": run.headline, "settings": run.settings,
                       "figures": [str(p) for p in run.figures]} for run in runs],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def summary_table(runs: list[NotebookRun]) -> str:
    """The runs as a plain-text table: notebook, seconds, status, headline metric."""
    from utils.evaluation import format_table

    rows = [[run.name, round(run.seconds, 1), run.status, run.headline or "-"] for run in runs]
    return format_table(rows, ["notebook", "seconds", "status", "headline"])

