"""The live progress line (arche.progress): in place in a terminal, an updated display in a notebook (the saved
copy of a papermill run keeps its last state), nothing where neither can redraw; the logged lines unchanged."""

import io
import os
import textwrap

import nbformat
import pytest
from conftest import tiny_config

from arche import progress
from arche.progress import Progress

ERASE = "\r\x1b[K"


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture(autouse=True)
def no_setting(monkeypatch):
    monkeypatch.delenv("ARCHE_PROGRESS", raising=False)


def test_a_terminal_line_redraws_in_place_with_log_lines_above_it():
    tty, clock, lines = Terminal(), Clock(), []
    p = Progress("ar", 100, stream=tty, clock=clock, log=lines.append)
    assert p.target == "tty"
    p.update(1)  # within the refresh interval of the start: not drawn
    assert tty.getvalue() == ""
    clock.t = 10.0
    p.update(40, note="loss 2.5000")
    assert tty.getvalue() == ERASE + "[ar] 40/100 steps (40%) | 0:10 elapsed, 0:15 left | loss 2.5000"
    clock.t = 10.05
    p.update(41)  # too soon after the last draw
    assert tty.getvalue().count(ERASE) == 1
    p.write("[ar] step 41 | a logged row")  # erased, logged, redrawn below it
    assert lines == ["[ar] step 41 | a logged row"]
    assert tty.getvalue().endswith(ERASE + ERASE + "[ar] 41/100 steps (41%) | 0:10 elapsed, 0:14 left | loss 2.5000")
    p.close()
    assert tty.getvalue().endswith(ERASE) and not p.drawn


def test_elsewhere_no_live_line_and_the_periodic_lines_stay():
    pipe, clock, lines = io.StringIO(), Clock(), []
    p = Progress("mdlm/ancestral", 300, unit="round", stream=pipe, clock=clock, log=lines.append, every_s=20)
    assert p.target is None
    for t, done in ((5, 10), (21, 50), (30, 60), (45, 150), (70, 300)):
        clock.t = t
        p.update(done)
    p.close()
    assert pipe.getvalue() == ""
    # a line at 21 s and at 45 s (20 s apart at least), none for the finished set
    assert lines == [
        "[mdlm/ancestral] 50/300 rounds (16%) | 0:21 elapsed, 1:45 left",
        "[mdlm/ancestral] 150/300 rounds (50%) | 0:45 elapsed, 0:45 left",
    ]


def test_the_setting_turns_it_off_and_a_resumed_run_counts_its_own_rate(monkeypatch):
    monkeypatch.setenv("ARCHE_PROGRESS", "lines")
    assert progress.live_target(Terminal()) is None
    monkeypatch.delenv("ARCHE_PROGRESS")
    clock = Clock()
    p = Progress("mdlm", 1000, start=900, stream=io.StringIO(), clock=clock)
    clock.t = 60.0
    p.update(950)  # 50 steps in a minute since the resume: 50 left take another minute
    assert p.text() == "[mdlm] 950/1,000 steps (95%) | 1:00 elapsed, 1:00 left"


def test_training_draws_its_live_line_and_prints_its_rows(tmp_path, monkeypatch, capsys):
    from arche.train import train

    monkeypatch.setattr(progress, "live_target", lambda stream=None: "tty")
    monkeypatch.setattr(progress, "REFRESH_S", {"tty": 0.0, "display": 0.0})
    cfg = tiny_config(steps=6, log_every=2, eval_every=3)
    train(cfg, "ar", tmp_path / "run", data_dir=tmp_path / "data", log=lambda *_: None)
    out = capsys.readouterr().out
    pieces = [piece for line in out.split("\n") for piece in line.split(ERASE)]
    rows = [piece for piece in pieces if piece.startswith("[ar] step")]
    assert [row.split("|")[0].split()[-1] for row in rows] == ["2/6", "3/6", "4/6", "6/6"]
    for line in (line for line in out.split("\n") if "[ar] step" in line):  # the live text erased, then the row
        assert ERASE + "[ar] step" in line and line.split(ERASE)[-1].startswith("[ar] step"), line
    assert ERASE + "[ar] 6/6 steps (100%)" in out  # the last step drawn
    assert "| evaluating: batch 1/" in out  # the evaluation counted on the same line
    assert out.endswith(ERASE)  # erased at the end: the rows are the record


def test_a_failing_task_erases_its_line_so_the_error_starts_clean():
    tty, clock = Terminal(), Clock()
    with pytest.raises(RuntimeError):
        with Progress("mdlm", 10, stream=tty, clock=clock) as p:
            clock.t = 1.0
            p.update(3)
            raise RuntimeError("diverged")
    assert tty.getvalue().endswith("[mdlm] 3/10 steps (30%) | 0:01 elapsed, 0:02 left" + ERASE)
    silent = Progress("ar", 10, log=None, stream=Terminal())  # log=None: no line at all
    silent.update(5, force=True)
    silent.write("nothing")
    assert silent.target is None and silent.stream.getvalue() == ""


CELL = textwrap.dedent(
    """
    from arche.progress import Progress
    for task in ("first", "second"):  # two tasks of one cell share its line
        with Progress(task, 30, unit="item") as p:
            for i in range(30):
                p.update(i + 1, note=f"item {i + 1}", force=True)
    print(p.target)
    """
)


def _notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL), nbformat.v4.new_code_cell(CELL.replace("second", "third"))]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_a_notebook_keeps_one_updated_line_and_the_runner_console_gets_none(tmp_path, monkeypatch):
    import papermill

    from arche.runner.kernel import KERNEL, KERNEL_ARGS, execute_with_papermill

    src = tmp_path / "demo.ipynb"
    _notebook(src)
    papermill.execute_notebook(
        str(src), str(tmp_path / "plain.ipynb"), kernel_name=KERNEL, progress_bar=False, extra_arguments=KERNEL_ARGS
    )
    for cell, last in zip(nbformat.read(tmp_path / "plain.ipynb", as_version=4).cells, ("second", "third")):
        shown = [o for o in cell.outputs if o.output_type == "display_data"]
        # 60 forced redraws, one output per cell: nbclient applied the updates to it, so the saved copy holds
        # the last state of the cell's last task
        assert len(shown) == 1
        assert shown[0].data["text/plain"] == f"[{last}] 30/30 items (100%) | 0:00 elapsed | item 30"
        assert "<pre" in shown[0].data["text/html"]
        assert "".join(o.text for o in cell.outputs if o.output_type == "stream").strip() == "display"

    lines = []
    execute_with_papermill(src, tmp_path / "runner.ipynb", {}, 120, KERNEL, lines.append)
    outputs = nbformat.read(tmp_path / "runner.ipynb", as_version=4).cells[0].outputs
    assert not [o for o in outputs if o.output_type == "display_data"]  # ARCHE_PROGRESS=lines in its kernels
    assert lines == ["None", "None"]
    assert "ARCHE_PROGRESS" not in os.environ  # and the setting does not outlive the run
