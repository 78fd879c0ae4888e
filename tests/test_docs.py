"""The commands in ``docs/getting_started.md`` work as written.

Code blocks preceded by ``<!-- doc-test: run -->`` are run, in order, in a scratch
directory that has the repository's ``examples/`` (later blocks use what earlier ones
wrote), through each module's ``main`` in this interpreter. Every other ``python -m MODULE`` and ``python SCRIPT`` command of the page must at
least answer ``--help``. Installation lines (``pip``, ``apt-get``, ...) and the test runner
itself are not run.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "getting_started.md"
RUN_MARK = "<!-- doc-test: run -->"


def code_blocks(text: str) -> list[tuple[bool, list[str]]]:
    """``(run, commands)`` of every ``sh`` block; continuation lines are joined."""
    blocks = []
    pattern = re.compile(rf"({re.escape(RUN_MARK)}\s*\n)?```sh\n(.*?)```", re.DOTALL)
    for match in pattern.finditer(text):
        commands, pending = [], ""
        for line in match.group(2).splitlines():
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if line and not line.startswith("#"):
                commands.append(line)
        blocks.append((match.group(1) is not None, commands))
    return blocks


def python_commands(commands: list[str]) -> list[list[str]]:
    """The ``python ...`` commands as argument lists, without the test runner."""
    out = []
    for command in commands:
        argv = shlex.split(command)
        if argv[0] == "python" and argv[1:3] != ["-m", "pytest"]:
            out.append(argv)
    return out


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


BLOCKS = code_blocks(PAGE.read_text())


def test_page_has_checked_blocks():
    assert sum(run for run, _ in BLOCKS) >= 3
    assert all(python_commands(commands) for run, commands in BLOCKS if run)


def test_checked_blocks_run(tmp_path, monkeypatch, capsys):
    """Each command runs through its module's ``main`` (one interpreter: fast), from a
    scratch directory, and must return 0."""
    (tmp_path / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for run, commands in BLOCKS:
        if not run:
            continue
        for argv in python_commands(commands):
            assert argv[1] == "-m", f"checked blocks run modules only: {shlex.join(argv)}"
            status = importlib.import_module(argv[2]).main(argv[3:])
            captured = capsys.readouterr()
            assert status == 0, f"{shlex.join(argv)}\n{captured.err}"
    for name in ("run.png", "timing/curves.png", "timing/run.png", "timing/trained.nir",
                 "timing/back.json"):
        assert (tmp_path / "out" / name).is_file(), name


def _help_targets() -> list[tuple[str, tuple[str, ...]]]:
    """(module or script, leading arguments) of every python command on the page."""
    targets = set()
    for _, commands in BLOCKS:
        for argv in python_commands(commands):
            if argv[1] == "-m":
                lead = tuple(a for a in argv[3:4] if not a.startswith("-") and "." not in a)
                targets.add((argv[2], lead))
            else:
                targets.add((argv[1], ()))
    return sorted(targets)


@pytest.mark.parametrize("target, lead", _help_targets())
def test_commands_answer_help(target, lead, capsys):
    if target.endswith(".py"):
        result = subprocess.run([sys.executable, str(REPO / target), "--help"], cwd=REPO,
                                env=environment(), capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert "usage" in result.stdout.lower()
        return
    module = importlib.import_module(target)
    with pytest.raises(SystemExit) as exit_info:
        module.main([*lead, "--help"])
    assert exit_info.value.code in (0, None)
    assert "usage" in capsys.readouterr().out.lower()
