"""The `chargelog` command line: every sub-command is listed and reachable, whichever way the
command line is written (the parser registers only the sub-command being run)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chargelog.cli import _command_of, build_parser


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chargelog.cli", *args], capture_output=True, text=True, timeout=60
    )


def all_commands() -> list[str]:
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    return sorted(choices)


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    listed = set(re.findall(r"^    (\S+)", result.stdout, re.MULTILINE))
    assert set(all_commands()) <= listed
    assert {"project", "sessions", "tariff", "payment", "serve", "demo", "simulate"} <= listed


@pytest.mark.parametrize("command", all_commands())
def test_every_command_has_its_own_help(command: str) -> None:
    result = run("--config", "unused.ini", command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: chargelog {command}")


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["project", "--rebuild"], "project"),
        (["--config", "serve", "sessions"], "sessions"),  # a config file named like a command
        (["-vv", "--config", "x.ini", "tariff", "list"], "tariff"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_found_past_the_options(argv: list[str], command: str | None) -> None:
    assert _command_of(argv) == command


def test_a_mistyped_command_lists_them_all() -> None:
    result = run("sesions")
    assert result.returncode == 2
    for command in all_commands():
        assert f"'{command}'" in result.stderr
