"""``python -m utils run-notebooks [--quick] [NAME ...]``: run the notebooks headless.

Each notebook is executed by `papermill <https://papermill.readthedocs.io>`_ in a fresh kernel of this
Python environment (the one that runs the command), in order, from the notebook's own folder, exactly as
Jupyter would run it. The executed copies (outputs included) go to a git-ignored folder; the sources in
``notebooks/`` are never changed. What this module adds to papermill:

* the notebooks in the collection's order, a summary table and ``summary.json``;
* the **kernel of this environment** (papermill would look the kernel up by name, which can find another
  Python), its own output (TensorFlow's C++ log) in ``<name>.kernel.log`` instead of the terminal;
* ``--set NAME=VALUE`` refused for a name that no settings cell assigns: papermill only warns, and its
  parser does not see settings such as ``EPOCHS = utils.by_mode(full=10, quick=2)``;
* **Ctrl-C** kills the running kernel at once, keeps the executed copy so far and stops the command;
* a cell tagged ``figure:<name>`` has its PNG output saved as ``<name>.png`` by ``--figures DIR``.

Conventions the notebooks follow, which this relies on: the settings cell is the code cell tagged
``parameters`` (papermill's convention: ``--set`` values are injected in a cell right after it); a
notebook reports its headline metric with :func:`utils.evaluation.headline`.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import platform
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import nbformat

from utils.cli.arguments import parse_assignments, positive
from utils.evaluation import HEADLINE_PREFIX
from utils.settings import QUICK_ENV, REPO_ROOT, quick_mode

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"

#: Where executed copies go (``build/`` is git-ignored).
DEFAULT_OUTPUT_DIR = REPO_ROOT / "build" / "notebooks"

SETTINGS_TAG = "parameters"
FIGURE_TAG_PREFIX = "figure:"
_HEADLINE = re.compile(rf"^{HEADLINE_PREFIX}(?P<text>.+)$", re.MULTILINE)


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
    settings: dict[str, object] = field(default_factory=dict)

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


def settings_cell(notebook):
    """The notebook's settings cell (the code cell tagged ``parameters``), or None."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and SETTINGS_TAG in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def settings_names(notebook) -> set[str]:
    """Names assigned at the top level of the settings cell."""
    cell = settings_cell(notebook)
    try:
        tree = ast.parse(cell.source) if cell is not None else ast.Module(body=[])
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


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
        for tag in cell.get("metadata", {}).get("tags", []):
            if not tag.startswith(FIGURE_TAG_PREFIX):
                continue
            name = tag.removeprefix(FIGURE_TAG_PREFIX)
            pngs = [out["data"]["image/png"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
            for number, png in enumerate(pngs, start=1):
                path = Path(folder) / (f"{name}.png" if number == 1 else f"{name}-{number}.png")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(png))
                saved.append(path)
    return saved


def _kernel_manager_class(log_path: Path, started: list):
    """An async kernel manager (as nbclient expects) whose kernel is this very Python environment, as
    nbval's ``--nbval-current-env``; the kernel process's own output goes to ``log_path`` and each
    manager is appended to ``started`` so that Ctrl-C can kill its kernel."""
    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    class CurrentEnvironmentSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    class CurrentEnvironmentKernel(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**{**kwargs, "kernel_spec_manager": CurrentEnvironmentSpecs()})
            started.append(self)

        async def start_kernel(self, **kwargs):
            with open(log_path, "a", encoding="utf-8") as log:  # the kernel process keeps its own copy of the file
                await super().start_kernel(**{**kwargs, "stdout": log, "stderr": log})

    return CurrentEnvironmentKernel


def _kill_kernels(managers) -> None:
    """Kill the kernel processes of ``managers`` (a running cell would otherwise go on until it ends)."""
    for manager in managers:
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)  # reap it: no zombie left behind


def run_notebook(path: Path, output_dir: Path = DEFAULT_OUTPUT_DIR, settings: dict | None = None,
                 figures_dir: Path | None = None, cell_timeout: int | None = None, label: str | None = None,
                 ) -> NotebookRun:
    """Execute one notebook with papermill in a fresh kernel; write the executed copy (also when a cell fails).

    The copy is ``output_dir/<name>.ipynb``; the kernel process's own output goes to
    ``output_dir/<name>.kernel.log``. ``settings`` (name: value) are injected after the settings cell.
    """
    import papermill  # only here: it imports a Jupyter stack

    path = Path(path)
    output = Path(output_dir) / path.name
    output.parent.mkdir(parents=True, exist_ok=True)
    log_path = output.with_suffix(".kernel.log")
    log_path.write_text("", encoding="utf-8")
    applied = {name: value for name, value in (settings or {}).items()
               if name in settings_names(nbformat.read(path, as_version=4))}
    started, outcome = [], {}
    label = label or path.stem

    def execute():
        try:
            papermill.execute_notebook(
                path, output, parameters=applied, cwd=path.parent, kernel_name="python3",
                kernel_manager_class=_kernel_manager_class(log_path, started), execution_timeout=cell_timeout,
                progress_bar={"desc": label, "file": sys.stdout, "leave": False}, shutdown_kernel="immediate")
            outcome["status"] = "ok"
        except papermill.PapermillExecutionError as err:
            outcome["status"] = f"failed: {err.ename}: {(err.evalue.splitlines() or [''])[0]}".rstrip(": ")
        except Exception as err:  # a dead or stuck kernel, a notebook that cannot be read
            outcome["status"] = f"failed: {type(err).__name__}: {(str(err).splitlines() or [''])[0]}"

    # papermill runs in a worker thread so that Ctrl-C reaches this one at once (nbclient would only act
    # on it between cells): on Ctrl-C the kernel is killed, nbclient notices within a second, papermill
    # writes the executed copy so far, and the command stops.
    start = time.perf_counter()
    worker = threading.Thread(target=execute, name=f"run {path.stem}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        _kill_kernels(started)
        worker.join(10)
        print(f"{label}  interrupted in {time.perf_counter() - start:.0f} s", flush=True)
        raise
    seconds = time.perf_counter() - start
    status = outcome.get("status", "failed: the notebook did not finish")
    print(f"{label}  {status} in {seconds:.0f} s", flush=True)
    executed = nbformat.read(output, as_version=4) if output.exists() else nbformat.v4.new_notebook()
    figures = save_figures(executed, figures_dir) if figures_dir is not None and status == "ok" else []
    return NotebookRun(path.stem, seconds, status, find_headline(executed), output, figures, applied)


def run_notebooks(paths, output_dir: Path = DEFAULT_OUTPUT_DIR, settings: dict | None = None,
                  figures_dir: Path | None = None, cell_timeout: int | None = None) -> list[NotebookRun]:
    """Run the notebooks in order, each in a fresh kernel, and write ``summary.json`` beside the copies.

    Every NAME in ``settings`` must be a setting of at least one of the notebooks (a typo is an error,
    not silently ignored).
    """
    settings = settings or {}
    known = set().union(*(settings_names(nbformat.read(p, as_version=4)) for p in paths)) if paths else set()
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"--set {', '.join(unknown)}: no such setting in the settings cell of "
                         f"{', '.join(Path(p).stem for p in paths)}")
    runs = [run_notebook(path, output_dir, settings, figures_dir, cell_timeout,
                         label=f"[{number}/{len(paths)}] {Path(path).stem}")
            for number, path in enumerate(paths, start=1)]
    write_summary(runs, Path(output_dir) / "summary.json")
    return runs


def write_summary(runs: list[NotebookRun], path: Path) -> None:
    """The runs as JSON: mode, machine, and per notebook seconds, status, headline and settings changed."""
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
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")


def summary_table(runs: list[NotebookRun]) -> str:
    """The runs as a plain-text table: notebook, seconds, status, headline metric; a rule under the header,
    text left-aligned, seconds right-aligned."""
    rows = [["notebook", "seconds", "status", "headline"]]
    rows += [[run.name, f"{run.seconds:,.0f}", run.status, run.headline or "-"] for run in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]

    def line(row):
        return "  ".join(value.rjust(width) if i == 1 else value.ljust(width)
                         for i, (value, width) in enumerate(zip(row, widths, strict=True))).rstrip()

    return "\n".join([line(rows[0]), "  ".join("-" * width for width in widths), *map(line, rows[1:])])


DESCRIPTION = ("Execute the notebooks in order, each in a fresh kernel of this Python, and print a table of "
               "notebook, seconds, status and headline metric. The executed copies (with outputs) are written to "
               "--output; the notebooks themselves are not changed. Exit status: 0 all ran, 1 some failed, "
               "2 usage error.")


def add_parser(commands) -> None:
    summary = "execute the notebooks in order in fresh kernels; summary table; exit 1 if any fails"
    notebooks = commands.add_parser("run-notebooks", help=summary, description=DESCRIPTION)
    notebooks.add_argument("names", nargs="*", metavar="NAME",
                           help="notebooks to run: numbers (02), names or paths; default: all, in order")
    notebooks.add_argument("--quick", action="store_true", help="quick mode (QUICK=1): small subsets, few epochs")
    notebooks.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                           help="change a setting of the settings cell, e.g. --set BACKBONE=mobilenet_v1_025 "
                                "(repeatable; applies to each notebook that has the setting)")
    notebooks.add_argument("--output", type=Path, default=DEFAULT_OUTPUT_DIR, metavar="DIR",
                           help="folder for the executed copies and summary.json (default build/notebooks)")
    notebooks.add_argument("--figures", type=Path, metavar="DIR",
                           help="also save the outputs of cells tagged figure:NAME as DIR/NAME.png")
    notebooks.add_argument("--cell-timeout", type=positive, metavar="SECONDS",
                           help="stop a cell that runs longer than this (default: no limit)")
    notebooks.set_defaults(run=run)


def run(args) -> int:
    if args.quick:
        os.environ[QUICK_ENV] = "1"  # read by utils.settings here and in every kernel started from here
    try:
        paths = find_notebooks(args.names)
        settings = parse_assignments(args.set)
    except (NotebookNotFound, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"running {len(paths)} notebook(s) in {'quick' if quick_mode() else 'full'} mode; "
          f"executed copies go to {args.output}")
    try:
        runs = run_notebooks(paths, args.output, settings, args.figures, args.cell_timeout)
    except ValueError as err:  # a --set name no notebook has
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; the executed copies so far are in {args.output}", file=sys.stderr)
        return 130
    print()
    print(summary_table(runs))
    for run in runs:
        if run.settings:
            print(f"{run.name}: " + ", ".join(f"{k}={v}" for k, v in run.settings.items()))
    figures = [path for run in runs for path in run.figures]
    if figures:
        print(f"figures: {', '.join(str(p) for p in figures)}")
    failed = [run for run in runs if not run.ok]
    for run in failed:
        print(f"error: {run.name} failed; its executed copy, with the traceback, is {run.output}", file=sys.stderr)
    return 1 if failed else 0
