"""action.yml and README's "Use from another repository", read without running them.

tests/containers/test_action.py runs README's workflow through action.yml; these catch in
a second what that takes minutes to: an expression naming an input action.yml does not
declare (GitHub would substitute an empty string), README's inputs table drifting from
action.yml, and a snippet GitHub's schema or actionlint would reject.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.harness.actions import (
    EXPRESSION,
    is_this_action,
    load_yaml,
    readme_blocks,
    readme_section,
)
from tests.harness.images import ROOT

BIN = Path(sys.executable).parent  # the venv's check-jsonschema and actionlint
LINT_TIMEOUT = 60.0  # seconds, one validator on one small file


def action() -> dict[str, Any]:
    found: dict[str, Any] = load_yaml((ROOT / "action.yml").read_text())
    return found


def test_every_input_the_steps_use_is_declared_and_every_declared_one_is_used() -> None:
    declared = set(action()["inputs"])
    text = (ROOT / "action.yml").read_text()
    used = {m.group(1) for m in EXPRESSION.finditer(text) if m.group(1).startswith("inputs.")}

    assert used == {f"inputs.{name}" for name in declared}


def test_readmes_input_table_is_action_ymls_inputs_with_their_defaults() -> None:
    rows = re.findall(r"^\| `([a-z-]+)` \| `?([^|`]*?)`? ?\|", readme_section(), re.MULTILINE)
    inputs = action()["inputs"]

    assert dict(rows) == {name: str(spec.get("default", "")) for name, spec in inputs.items()}


def test_readmes_workflow_passes_githubs_schema_and_actionlint(tmp_path: Path) -> None:
    workflow = tmp_path / "conformance.yml"
    workflow.write_text(readme_blocks()[1])
    for command in (
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"],
        [str(BIN / "actionlint"), "-no-color"],
    ):
        done = subprocess.run(
            [*command, str(workflow)], capture_output=True, text=True, timeout=LINT_TIMEOUT
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_readmes_workflow_gives_the_action_only_inputs_it_declares() -> None:
    steps = load_yaml(readme_blocks()[1])["jobs"]["conformance"]["steps"]
    (step,) = [step for step in steps if is_this_action(step)]

    assert set(step["with"]) <= set(action()["inputs"])
    assert step["with"]["target"].endswith(".toml")
