"""``python -m utils run-notebooks`` (papermill underneath) and the conventions it relies on (settings cell,
headline, figure tags), including Ctrl-C on every supported Python."""

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from utils.cli import main
from utils.cli import run_notebooks as runner
from utils.cli.arguments import parse_assignments
from utils.cli.run_notebooks import NotebookRun, summary_table
from utils.settings import REPO_ROOT

# a 1 x 1 PNG, as a notebook stores an image output
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101005d1bd5a40000000049454e44ae426082")).decode()


def notebook(*cells, settings=None):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if settings is not None:
        cell = new_code_cell(settings)
        cell.metadata["tags"] = [runner.SETTINGS_TAG]
        nb.cells.append(cell)
    nb.cells += [new_code_cell(source) for source in cells]
    return nb


def write(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_find_notebooks_by_number_name_or_path_in_order(tmp_path):
    for name in ["02_train", "01_explore", "10_extra"]:
        write(tmp_path / f"{name}.ipynb", notebook("1"))
    assert [p.stem for p in runner.find_notebooks((), tmp_path)] == ["01_explore", "02_train", "10_extra"]
    chosen = runner.find_notebooks(["02", "01_explore.ipynb", str(tmp_path / "10_extra.ipynb")], tmp_path)
    assert [p.stem for p in chosen] == ["01_explore", "02_train", "10_extra"]
    with pytest.raises(runner.NotebookNotFound, match="'03' matches no notebook; choose from: 01_explore, 02_train"):
        runner.find_notebooks(["03"], tmp_path)


def test_the_real_notebooks_are_found_in_the_order_the_readme_lists_them():
    import re

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| \d\d \| \[`(\d\d_\w+)\.ipynb`\]", readme, re.MULTILINE)
    assert [p.stem for p in runner.find_notebooks()] == listed and listed[0] == "00_setup_check"


def test_parse_assignments_takes_literals_and_plain_words():
    assert parse_assignments(["EPOCHS=3", "BACKBONE=mobilenet_v1_025", "SIZE=None", 'NAME="x y"',
                                     "SIZES=[1, 2]"]) == {
        "EPOCHS": 3, "BACKBONE": "mobilenet_v1_025", "SIZE": None, "NAME": "x y", "SIZES": [1, 2]}
    with pytest.raises(ValueError, match="write NAME=VALUE"):
        parse_assignments(["EPOCHS"])
    with pytest.raises(ValueError, match="write NAME=VALUE"):
        parse_assignments(["2X=1"])


def test_settings_names_are_the_settings_cells_assignments_including_computed_ones():
    nb = notebook("Y = 2", settings='import utils\n\nEPOCHS = utils.by_mode(full=10, quick=2)\n'
                                    'SIZES = {\n    "a": 1,\n}\nPATH: str = "model.keras"  # annotated\nA, B = 1, 2')
    assert runner.settings_names(nb) == {"EPOCHS", "SIZES", "PATH"}
    assert runner.settings_names(notebook("X = 1")) == set(), "no tagged cell: no settings"


def test_headline_lines_are_found_in_the_outputs():
    nb = notebook("a", "b")
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x\nHeadline: first = 1\n")]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="Headline: seconds = 1,234\nend\n")]
    assert runner.find_headline(nb) == "seconds = 1,234"
    assert runner.find_headline(notebook("a")) is None


def test_save_figures_writes_the_png_outputs_of_tagged_cells(tmp_path):
    nb = notebook("plot()", "plot()")
    nb.cells[0].metadata["tags"] = ["figure:curves"]
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"}),
                           nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"})]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"})]
    saved = runner.save_figures(nb, tmp_path / "docs")
    assert [p.name for p in saved] == ["curves.png", "curves-2.png"], "untagged cells are not saved"
    assert saved[0].read_bytes() == base64.b64decode(PNG)


def test_run_notebooks_command_runs_in_order_reports_and_fails_on_a_failing_notebook(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QUICK", "0")  # --quick sets QUICK=1 in this process; restored after the test
    good = notebook("import utils\nutils.headline('value', VALUE * 2)",
                    "from IPython.display import Image, display\n"
                    f"display(Image(data=__import__('base64').b64decode('{PNG}')))",
                    "import os\nassert os.environ.get('QUICK') == '1', 'quick mode reaches the kernel'\n"
                    f"open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))",
                    settings="VALUE = 1")
    good.cells[2].metadata["tags"] = ["figure:dot"]
    bad = notebook("x = 1", "raise ValueError('no data here')\n", "print('never')")
    folder = tmp_path / "nbs"
    paths = [write(folder / "01_good.ipynb", good), write(folder / "02_bad.ipynb", bad)]
    source_before = paths[0].read_text()
    code = main(["run-notebooks", "--quick", *map(str, paths), "--set", "VALUE=21", "--output", str(tmp_path / "out"),
                 "--figures", str(tmp_path / "figs")])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    row_good = next(line for line in lines if line.startswith("01_good "))
    row_bad = next(line for line in lines if line.startswith("02_bad "))
    assert " ok " in row_good and row_good.rstrip().endswith("value = 42")
    assert "failed: ValueError: no data here" in row_bad
    assert "01_good: VALUE=21" in out
    assert "02_bad failed" in err and str(tmp_path / "out" / "02_bad.ipynb") in err
    assert paths[0].read_text() == source_before, "the source notebook is never changed"
    executed = nbformat.read(tmp_path / "out" / "01_good.ipynb", as_version=4)
    assert executed.cells[0].source == "VALUE = 1", "the settings cell as it is..."
    assert "VALUE = 21" in executed.cells[1].source, "...and papermill's injected cell right after it"
    assert (tmp_path / "figs" / "dot.png").read_bytes() == base64.b64decode(PNG)
    failed_copy = nbformat.read(tmp_path / "out" / "02_bad.ipynb", as_version=4)
    failing = next(cell for cell in failed_copy.cells if cell.source.startswith("raise ValueError"))
    assert failing.outputs[0].output_type == "error", "the failing copy keeps its traceback"
    with pytest.raises(ProcessLookupError):  # each kernel is shut down once its notebook has run
        os.kill(int((tmp_path / "pid").read_text()), 0)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["mode"] == "quick"
    assert [(n["name"], n["status"] == "ok", n["headline"]) for n in summary["notebooks"]] == [
        ("01_good", True, "value = 42"), ("02_bad", False, None)]


def test_run_notebooks_usage_errors_exit_2(tmp_path, capsys):
    path = write(tmp_path / "01_x.ipynb", notebook("1", settings="EPOCHS = 1"))
    assert main(["run-notebooks", "99_nothing"]) == 2
    assert "matches no notebook" in capsys.readouterr().err
    assert main(["run-notebooks", str(path), "--set", "EPOCH=3", "--output", str(tmp_path / "out")]) == 2
    assert "--set EPOCH: no such setting in the settings cell of 01_x" in capsys.readouterr().err
    assert main(["run-notebooks", str(path), "--set", "EPOCHS"]) == 2
    assert not (tmp_path / "out").exists(), "nothing ran"


def _kill(pid):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_ctrl_c_stops_the_running_cell_kills_its_kernel_and_exits_130(tmp_path):
    started = tmp_path / "kernel.pid"
    sleeper = notebook(f"import os, time\nopen({str(started)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)",
                       "print('never reached')")
    path = write(tmp_path / "01_sleep.ipynb", sleeper)
    # Ctrl-C as in a terminal: a test run started in the background (`cmd &` in a script) inherits SIGINT
    # ignored, and Python then keeps ignoring it, so the command gets SIGINT's default disposition back
    command = subprocess.Popen([sys.executable, "-m", "utils", "run-notebooks", str(path), "--output",
                                str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started.exists(), "the notebook's first cell should have started"
        interrupted = time.monotonic()
        command.send_signal(signal.SIGINT)
        out, err = command.communicate(timeout=30)  # long before the 120 s cell would end
        assert time.monotonic() - interrupted < 15, "Ctrl-C ends the command within seconds"
        assert command.returncode == 130
        assert "interrupted" in out and err.strip().splitlines()[-1].startswith("interrupted;"), "one line"
        assert "Traceback" not in err
        time.sleep(0.5)
        with pytest.raises(ProcessLookupError):
            os.kill(int(started.read_text()), 0)
        assert (tmp_path / "out" / "01_sleep.ipynb").exists(), "the executed copy so far is kept"
    finally:  # pass or fail, leave nothing running
        command.kill()
        command.communicate()
        if started.exists() and started.read_text():
            _kill(int(started.read_text()))


def test_the_summary_table_is_aligned_with_a_rule_under_its_header():
    runs = [NotebookRun("04_transfer_learning", 1073.2, "ok", "test accuracy = 0.8468", Path("a")),
            NotebookRun("05_top5", 68, "failed", None, Path("b"))]
    header, rule, first, second = summary_table(runs).splitlines()
    assert header.split() == ["notebook", "seconds", "status", "headline"] and set(rule) == {"-", " "}
    assert first.index("1,073") + len("1,073") == second.index("68") + 2 == header.index("seconds") + 7
    assert second.split() == ["05_top5", "68", "failed", "-"]
