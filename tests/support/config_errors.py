"""How a bad stack config is refused, for every section's tests: in the model and by the CLI."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import ConfigError, parse_config
from ops.render import stack_file, stack_sections

REPO = Path(__file__).resolve().parents[2]
Raw = dict[str, Any]


def refusal(stack: str, mutate: Callable[[Raw], object]) -> str:
    """The `ConfigError` message for the stack's own config changed by `mutate`.

    Fails the test when the stack file itself is invalid, when the change is accepted, or
    when the message does not start by naming the stack.
    """
    raw = copy.deepcopy(stack_sections(stack_file(stack)))
    parse_config(stack, copy.deepcopy(raw))  # the stack file itself is fine
    mutate(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(stack, raw)
    message = str(caught.value)
    assert message.startswith(f"stack {stack!r} has invalid config:\n"), message
    return message


def cli_refusal(tmp_path: Path, stack: str, edit: Callable[[Raw], object]) -> str:
    """stderr of `dataplatform render STACK --config <copy edited by edit>`: exit status 2,
    nothing on stdout, no traceback, and the first line naming the stack."""
    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    edit(document["config"])
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document))
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", "render", stack, "--config", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.splitlines()[0] == f"stack {stack!r} has invalid config:"
    return done.stderr
