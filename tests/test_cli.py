"""The `chargelog` command line: every sub-command is listed and reachable, and building the
parser imports no command's heavy dependencies (each handler imports its own)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from chargelog.cli import build_parser


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


HEAVY = ("flask", "paho", "mysql.connector", "apscheduler", "waitress", "tqdm", "projector")


def test_building_the_parser_imports_no_handler_dependency() -> None:
    """Every command builds the whole parser first: the web stack, the MQTT client, the driver,
    the scheduler and the projection must wait for the handler that needs them."""
    code = (
        "import sys; from chargelog.cli import build_parser; build_parser(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
        f"or m in {HEAVY!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_mistyped_command_lists_them_all() -> None:
    result = run("sesions")
    assert result.returncode == 2
    for command in all_commands():
        assert f"'{command}'" in result.stderr
