"""action.yml as another repository's workflow uses it (issue 14, "Use from another repository").

README's two blocks under "Use from another repository", the user's profile and workflow,
are written into a scratch repository with a Dockerfile and a line echo of its own (nothing
of this project in it). The workflow's steps then run the way GitHub's runner runs them
(tests/harness/actions.py): `actions/checkout` is the scratch repository itself,
`actions/setup-python` the machine's python3, the socket-harness step is action.yml's own
`run:` scripts through bash with GITHUB_ACTION_PATH on a copy of this checkout (a fresh
virtual environment, `pip install` of that copy), and `actions/upload-artifact` is a look
at the path it would upload.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.harness.actions import (
    ActionResult,
    Job,
    is_this_action,
    load_yaml,
    readme_blocks,
    run_action,
    run_job,
)
from tests.harness.images import base_image
from tests.harness.user_repo import (
    CHECKS,
    WIRE_CHECKS,
    copy_checkout,
    user_env,
    write_echo_service,
)

# A fresh venv with the dependencies from PyPI (or pip's cache), then the image build and
# the suite: each step of the action has its own bound, the test one for all of them.
pytestmark = pytest.mark.timeout(900)
STEP_TIMEOUT = 400.0  # seconds, one `run:` step (the install is the longest)


@dataclass
class UserRepo:
    """The scratch repository and what its job's `uses:` steps did."""

    job: Job
    steps: list[Mapping[str, Any]]
    action_path: Path
    actions: list[ActionResult] = field(default_factory=list)  # each use of the action
    uploaded: list[Path] = field(default_factory=list)

    def uses(self, step: Mapping[str, Any], given: dict[str, str]) -> ActionResult:
        """What GitHub would do for a `uses:` step of README's workflow, here."""
        name = str(step["uses"])
        if is_this_action(name):
            self.actions.append(run_action(self.action_path, given, self.job, STEP_TIMEOUT))
            return self.actions[-1]
        if name.startswith(("actions/checkout@", "actions/setup-python@")):
            return ActionResult(False, {})  # the workspace is the checkout; python3 is on PATH
        if name.startswith("actions/upload-artifact@"):
            self.uploaded.append(Path(given["path"]))
            return ActionResult(not Path(given["path"]).is_dir(), {})
        raise AssertionError(f"README's workflow uses {name}: not known to this test")

    def run(self) -> bool:
        return run_job(self.steps, self.job, self.uses, STEP_TIMEOUT)


@pytest.fixture(scope="module")
def action_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action as the runner fetches it for `uses: OWNER/socket-harness@REF`: the tree."""
    return copy_checkout(tmp_path_factory.mktemp("actions") / "socket-harness")


def user_repo(home: Path, action_path: Path) -> UserRepo:
    """README's profile and workflow in a scratch repository at `home`."""
    profile, workflow = readme_blocks()
    steps = load_yaml(workflow)["jobs"]["conformance"]["steps"]
    workspace = write_echo_service(home / "workspace", base_image())
    (action,) = [step for step in steps if is_this_action(step)]
    target = workspace / action["with"]["target"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(profile)
    env = user_env() | {"CI": "true", "GITHUB_ACTIONS": "true"}  # as on GitHub's runners
    job = Job(workspace=workspace, temp=home / "runner-temp", env=env)
    return UserRepo(job, steps, action_path)


def junit_counts(path: Path) -> dict[str, int]:
    """tests/failures/errors/skipped of a JUnit XML file's test suite."""
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    return {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}


@dataclass(frozen=True)
class Ran:
    """README's workflow after one run: the repository, whether the job passed, its log."""

    repo: UserRepo
    passed: bool
    log: str


@pytest.fixture(scope="module")
def readmes_job(action_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """README's workflow, run once in a scratch repository (a fresh runner temp directory)."""
    repo = user_repo(tmp_path_factory.mktemp("user"), action_path)
    passed = repo.run()
    return Ran(repo, passed, "\n".join(repo.job.log))


def test_readmes_workflow_runs_the_suite_and_reports(readmes_job: Ran) -> None:
    repo, log = readmes_job.repo, readmes_job.log

    assert readmes_job.passed, log
    (action,) = repo.actions[:1]  # README's one use of the action (the next test adds one)
    report = Path(action.outputs["report"])
    assert report == repo.job.workspace / "socket-harness-report", action.outputs
    assert repo.uploaded[:1] == [report]
    for name in ("matrix.md", "matrix.html", "junit.xml"):
        assert (report / name).is_file(), f"{name} missing from {report}\n{log}"
    counts = junit_counts(report / "junit.xml")
    # Its image runs in a container: the descriptor and memory check applies too.
    skipped = CHECKS - len(WIRE_CHECKS) - 1  # not declared by the target, or not applicable
    assert counts == {"tests": CHECKS, "failures": 0, "errors": 0, "skipped": skipped}
    matrix = (report / "matrix.md").read_text()
    assert "my-service" in matrix, matrix
    assert matrix in repo.job.summary.read_text()  # the step summary
    # The suite ran from the action's own fresh environment, not this checkout's .venv.
    venv = repo.job.temp / "socket-harness-venv"
    assert list(venv.glob("lib/python3*/site-packages/socket_harness/conformance")), log


def test_a_second_use_in_the_job_with_a_broken_promise_fails_and_leaves_its_report(
    readmes_job: Ran,
) -> None:
    """The same job uses the action again (its venv is there already), for a second profile:
    README's with a declared 16-byte message limit the echo does not keep, its own report
    directory, and the `args` input naming those checks. The step fails; the upload step
    (`if: always()`) still finds the second report."""
    repo = readmes_job.repo
    profile, _ = readme_blocks()
    broken = repo.job.workspace / "conformance" / "broken.toml"
    broken.write_text(profile + "\n[promises.max_message_bytes]\nlimit = 16\n")
    at = next(index for index, step in enumerate(repo.steps) if is_this_action(step))
    with_ = {"target": "conformance/broken.toml", "report": "broken-report"}
    with_["args"] = "--check 'limit/'"  # quoted: split as a shell would
    steps = [dict(repo.steps[at], **{"with": with_}), *repo.steps[at + 1 :]]  # and the upload
    before = len(repo.actions), len(repo.uploaded)

    passed = run_job(steps, repo.job, repo.uses, STEP_TIMEOUT)

    log = "\n".join(repo.job.log)
    assert not passed, log
    (action,) = repo.actions[before[0] :]
    assert action.failed, log
    report = Path(action.outputs["report"])
    assert report == repo.job.workspace / "broken-report"
    assert repo.uploaded[before[1] :] == [report]
    counts = junit_counts(report / "junit.xml")
    assert counts["failures"] == 2, (counts, log)  # limit/one-over, limit/over-after-answers
    assert counts["tests"] < CHECKS, counts  # --check limit/ reached pytest
    assert "limit/one-over" in (report / "matrix.md").read_text()
