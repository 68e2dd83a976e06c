"""Every `nnlab train` command the README shows is accepted (a newcomer copies them verbatim)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cli.main import build_parser
from cli.train_args import spec_values
from engine.spec import parse_spec

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_train_commands() -> list[str]:
    text = README.read_text()
    found = re.findall(r"`(nnlab train [^`]*)`", text)
    return [c for c in found if "..." not in c and "|" not in c]


def test_the_readme_shows_train_commands():
    assert len(readme_train_commands()) >= 8


@pytest.mark.parametrize("command", readme_train_commands())
def test_readme_train_command_is_a_valid_spec(command):
    argv = shlex.split(command)[1:]
    args = build_parser().parse_args(argv)
    spec = parse_spec(spec_values(args))
    assert spec.epochs >= 1
