"""Every command the README shows is one the project accepts (issue 24): `python -m arche` lines parse with the
real parser, name profiles, config keys, stages and files that exist; `make` targets exist; papermill lines name
a notebook and its parameters; the `params` lines print what the README says they print."""

import io
import json
import re
import shlex
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from arche.__main__ import build_parser, main
from arche.config import parse_overrides
from arche.profiles import PROFILES, load_config
from arche.runner.notebook_checks import PARAMETERS, select_stages

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[tuple[str, str]]:
    """(command, the comment after it) for every line of the README's bash blocks and every inline `...`
    span that is a `python -m arche` or `make` command."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("#")
            if command.strip():
                out.append((command.strip(), comment.strip()))
    for span in re.findall(r"`((?:python -m arche|make) [^`]+)`", README):
        out.append((span.strip(), ""))
    return out


COMMANDS = readme_commands()
ARCHE = [(c, note) for c, note in COMMANDS if c.startswith(("python -m arche ", "torchrun "))]


def test_the_readme_has_its_two_commands_and_more():
    assert ("make smoke", COMMANDS[0][1]) == COMMANDS[0] and COMMANDS[1][0] == "make test"
    assert len(ARCHE) >= 15


@pytest.mark.parametrize("command,note", ARCHE, ids=[c for c, _ in ARCHE])
def test_each_arche_command_parses_and_names_what_exists(command, note):
    words = shlex.split(command)
    argv = words[words.index("arche") + 1 :]
    args = build_parser().parse_args(argv)  # SystemExit (a failure) on an unknown command or option
    if getattr(args, "profile", None):
        assert args.profile in PROFILES
        load_config(args.profile, **parse_overrides(getattr(args, "overrides", None)))  # keys and values valid
    for name in ("results", "repetition"):
        if getattr(args, name, None):
            assert (ROOT / getattr(args, name)).is_file(), f"{command}: {getattr(args, name)} does not exist"
    if args.command == "run" and (args.only or getattr(args, "from")):
        select_stages(args.only, getattr(args, "from"))


def test_each_make_target_exists():
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    for command, _ in COMMANDS:
        if command.startswith("make "):
            assert set(command.split()[1:]) <= targets, command


def test_each_papermill_line_names_a_notebook_and_its_parameters():
    lines = [c for c, _ in COMMANDS if c.startswith("papermill")]
    assert lines
    for command in lines:
        words = shlex.split(command)
        notebook = next(w for w in words if w.endswith(".ipynb"))
        assert (ROOT / notebook).is_file()
        names = [words[i + 1] for i, w in enumerate(words) if w == "-p"]
        assert names and set(names) <= set(PARAMETERS), command


@pytest.mark.parametrize("command,note", [(c, n) for c, n in ARCHE if " params " in c and n.startswith("{")])
def test_the_params_lines_print_what_the_readme_says(command, note):
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(shlex.split(command)[3:]) in (0, None)
    printed = json.loads(out.getvalue())
    for key, value in re.findall(r'"(\w+)": (\d+)', note):
        assert printed[key] == int(value), f"{command}: README says {key}={value}, it prints {printed[key]}"
