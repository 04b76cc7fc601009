"""GitHub's runner, as far as this project's composite action and README's workflow need it.

A composite action's `run:` steps are scripts the runner writes to a file and runs with
`bash --noprofile --norc -eo pipefail FILE` (GitHub's documented `shell: bash`), in the
workspace, with GITHUB_ACTION_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and RUNNER_TEMP
set and every `${{ ... }}` already replaced by its value. This module does exactly that,
so a test runs action.yml's own steps rather than a copy of them. It knows the contexts
the action and README's workflow use (inputs, steps' outputs, github.action_path,
github.workspace, runner.temp) and `if: always()`; anything else, and an input
the action does not declare, is ActionProblem: where GitHub would quietly substitute an
empty string, the test says what is wrong.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML  # check-jsonschema's YAML reader, installed with it

from tests.harness.images import ROOT

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# How a workflow names this repository's action: `OWNER/socket-harness@REF`.
THIS_ACTION = re.compile(r"^[\w.-]+/socket-harness@[\w./-]+$")
README_SECTION = "\n### Use from another repository\n"
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitHub's `shell: bash`


class ActionProblem(Exception):
    """The action or workflow uses what this runner does not do, or names what does not
    exist (an undeclared input, an unknown context); the message says which."""


def readme_section() -> str:
    """README's "Use from another repository" subsection (to the next heading)."""
    return (ROOT / "README.md").read_text().split(README_SECTION)[1].split("\n### ")[0]


def readme_blocks() -> tuple[str, str]:
    """README's user profile (the TOML block) and workflow (the YAML block) in that section."""
    section = readme_section()
    toml = re.search(r"^```toml\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    yaml = re.search(r"^```yaml\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    if not (toml and yaml):
        raise ActionProblem("README's 'Use from another repository' lost its toml or yaml block")
    return toml.group(1), yaml.group(1)


def is_this_action(step: Mapping[str, Any] | str) -> bool:
    """Is this `uses:` value (or a step's) this repository's action, `OWNER/socket-harness@REF`?"""
    uses = step if isinstance(step, str) else str(step.get("uses", ""))
    return bool(THIS_ACTION.match(uses))


def load_yaml(text: str) -> Any:
    """A YAML document as plain Python values (YAML 1.2, as GitHub reads it)."""
    return YAML(typ="safe").load(text)


def evaluate(text: str, context: Mapping[str, str]) -> str:
    """`text` with each `${{ NAME }}` replaced by context[NAME] (NAME like `inputs.target`);
    ActionProblem for a NAME the context lacks (a misspelt input, an expression)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context:
            raise ActionProblem(f"${{{{ {name} }}}}: not in the context ({', '.join(context)})")
        return context[name]

    return EXPRESSION.sub(value, text)


@dataclass
class Job:
    """One job's runner state: `workspace` (the checkout, each step's working directory),
    `temp` (RUNNER_TEMP), `env` (the environment every step starts from) and `context`
    (expression values, growing by each step's outputs as `steps.ID.outputs.NAME`)."""

    workspace: Path
    temp: Path
    env: dict[str, str]
    context: dict[str, str] = field(default_factory=dict)
    summary: Path = field(init=False)
    log: list[str] = field(default_factory=list)
    _count: int = 0

    def __post_init__(self) -> None:
        self.temp.mkdir(parents=True, exist_ok=True)
        self.summary = self.temp / "step-summary.md"
        self.summary.touch()
        self.context |= {
            "github.workspace": str(self.workspace),
            "runner.temp": str(self.temp),
        }

    def run(
        self,
        script: str,
        env: Mapping[str, str],
        context: Mapping[str, str],
        timeout: float,
    ) -> tuple[int, dict[str, str]]:
        """Run one `run:` step's `script` (expressions in it and in `env` evaluated against
        `context`) as the runner does; (exit status, the outputs it wrote). The step's output
        is appended to `log`. Raises ActionProblem if it outlives `timeout` seconds."""
        self._count += 1
        path = self.temp / f"step-{self._count}.sh"
        path.write_text(evaluate(script, context))
        outputs = self.temp / f"step-{self._count}.output"
        outputs.touch()
        environment = self.env | {
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_WORKSPACE": str(self.workspace),
            "RUNNER_TEMP": str(self.temp),
        }
        environment |= {name: evaluate(str(value), context) for name, value in env.items()}
        started = time.monotonic()
        try:
            done = subprocess.run(
                [*BASH, str(path)],
                cwd=self.workspace,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise ActionProblem(f"step {self._count} took more than {timeout:.0f} s") from None
        took = time.monotonic() - started
        self.log.append(f"--- step {self._count}: exit {done.returncode}, {took:.1f} s")
        self.log.append(done.stdout)
        return done.returncode, parse_outputs(outputs.read_text())


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's `NAME=VALUE` lines; ActionProblem for any other form."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        name, equals, value = line.partition("=")
        if not equals:
            raise ActionProblem(f"GITHUB_OUTPUT line {line!r} is not NAME=VALUE")
        found[name] = value
    return found


def runs(step: Mapping[str, Any], failed: bool) -> bool:
    """Does a step run, given whether an earlier one failed? (`if:` absent or `always()`.)"""
    condition = step.get("if")
    if condition is None:
        return not failed
    if str(condition).strip() in ("always()", "${{ always() }}"):
        return True
    raise ActionProblem(f"if: {condition!r} is not a condition this runner knows")


@dataclass(frozen=True)
class ActionResult:
    """A composite action's end: `failed` (a step exited non-zero) and its `outputs`."""

    failed: bool
    outputs: dict[str, str]


def run_action(
    action_dir: Path, given: Mapping[str, str], job: Job, timeout: float
) -> ActionResult:
    """Run the composite action in `action_dir` (its action.yml) with inputs `given` (a
    `with:` block, values already evaluated) as a step of `job`; each step may take
    `timeout` seconds. ActionProblem for an input the action does not declare (given, or used
    in an expression), a required one missing, or a step that is not a bash `run:` step."""
    action_text = (action_dir / "action.yml").read_text()
    action = load_yaml(action_text)
    declared: dict[str, Any] = action.get("inputs") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ActionProblem(f"inputs {unknown} are not declared in action.yml ({sorted(declared)})")
    # Before any step runs, so a misspelt input fails at once, not after the install.
    misspelt = {m.group(1) for m in EXPRESSION.finditer(action_text)}
    misspelt = {name for name in misspelt if name.startswith("inputs.")}
    misspelt -= {f"inputs.{name}" for name in declared}
    if misspelt:
        raise ActionProblem(f"action.yml uses {sorted(misspelt)}: not declared inputs")
    context = dict(job.context, **{"github.action_path": str(action_dir)})
    for name, spec in declared.items():
        if name not in given and spec.get("required") and "default" not in spec:
            raise ActionProblem(f"input {name!r} is required")
        context[f"inputs.{name}"] = str(given.get(name, spec.get("default", "")))
    if action["runs"]["using"] != "composite":
        raise ActionProblem(f"runs.using is {action['runs']['using']!r}, not composite")
    failed = False
    for step in action["runs"]["steps"]:
        if not runs(step, failed):
            continue
        if "run" not in step or step.get("shell") != "bash":
            raise ActionProblem(f"step {step.get('name')!r}: only `shell: bash` run steps here")
        env = dict(step.get("env") or {}, GITHUB_ACTION_PATH=str(action_dir))
        status, outputs = job.run(step["run"], env, context, timeout)
        failed = failed or status != 0
        if "id" in step:
            context |= {f"steps.{step['id']}.outputs.{k}": v for k, v in outputs.items()}
    values = {
        name: evaluate(str(spec.get("value", "")), context)
        for name, spec in (action.get("outputs") or {}).items()
    }
    return ActionResult(failed, values)


# A `uses:` step of a workflow, done by the test: (the step, its evaluated `with:`) -> result.
UsesStep = Callable[[Mapping[str, Any], dict[str, str]], ActionResult]


def run_job(steps: list[Mapping[str, Any]], job: Job, uses: UsesStep, timeout: float) -> bool:
    """Run a workflow job's `steps` in order as the runner does: `run:` steps with bash,
    `uses:` steps through `uses` (which decides what an action does here); a step's outputs
    join the context under its id. True if every step that ran passed."""
    failed = False
    for step in steps:
        if not runs(step, failed):
            continue
        if "uses" in step:
            given = {k: evaluate(str(v), job.context) for k, v in (step.get("with") or {}).items()}
            result = uses(step, given)
            status, outputs = int(result.failed), result.outputs
        else:
            status, outputs = job.run(step["run"], step.get("env") or {}, job.context, timeout)
        failed = failed or status != 0
        if "id" in step:
            job.context |= {f"steps.{step['id']}.outputs.{k}": v for k, v in outputs.items()}
    return not failed
