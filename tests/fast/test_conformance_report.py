"""`--conformance-report DIR`: the checks x targets matrix (socket_harness/report.py), from a
real run of the conformance suite against a line echo on loopback (an address target),
and the JUnit XML it writes beside it.

The echo (tests/fast/line_echo.py) answers each line as it came. Declared as such it
passes the wire's checks; declared with an ack prefix it does not send, payload checks
fail, and the report must show that failure with the bytes sent and received (escaped)
and the command that re-runs just that check against just that target.
"""

from __future__ import annotations

import html.parser
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

RUN_TIMEOUT = 120.0  # seconds: the whole suite against a loopback echo
PROFILE = """\
[target]
name = "{name}"
address = "127.0.0.1:{port}"

[[listeners]]
framing = "line"
port = {port}

[wire]
greeting = false
ack_prefix = "{ack}"
"""


def run_suite(report: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The suite against `profile`, from its directory, adding to the report in `report`."""
    command = [sys.executable, "-m", "pytest", "--pyargs", "socket_harness.conformance"]
    command += ["-p", "no:cacheprovider", "-q", "--conformance-report", str(report)]
    command += ["--target", profile.name, *args]
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    return subprocess.run(
        command, cwd=profile.parent, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env
    )


def profile(directory: Path, name: str, port: int, ack: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(PROFILE.format(name=name, port=port, ack=ack))
    return path


@pytest.mark.covers("conformance/failure-line")
def test_the_matrix_shows_each_outcome_and_a_failure_in_full(
    echo_port: int, tmp_path: Path
) -> None:
    good = profile(tmp_path, "echo", echo_port, "")
    bad = profile(tmp_path, "echo-with-prefix", echo_port, "<ok> ")
    report = tmp_path / "report"
    result = run_suite(report, good)
    assert result.returncode == 0, result.stdout + result.stderr
    # A second run, of one check, adds its target's column to the same matrix.
    result = run_suite(report, bad, "--check", "payload/echo-exact")
    assert result.returncode == 1, result.stdout + result.stderr

    markdown = (report / "matrix.md").read_text()
    assert "| check | echo | echo-with-prefix |" in markdown, markdown
    assert "| `payload/echo-exact` | passed | **failed** |" in markdown, markdown
    assert "| `backlog/queues-b-plus-one` | not declared |  |" in markdown, markdown
    assert "| `max-sessions/exits-after-n` | not applicable |  |" in markdown, markdown
    rerun = (
        "python -m pytest --pyargs socket_harness.conformance "
        "--target echo-with-prefix.toml --check payload/echo-exact"
    )
    assert f"Re-run: `{rerun}`" in markdown, markdown
    # The first body sent, and the echo's answer: escaped, without the declared prefix.
    assert "sent 6 bytes: b'hello\\n'" in markdown, markdown
    assert "received 6 bytes: b'hello\\n'" in markdown, markdown
    # The failure in full: the message alone, its bytes as text, no helper's file:line.
    assert "waited for the answer; received 6 bytes: b'hello\\n'\n```" in markdown, markdown
    assert ".py:" not in markdown, markdown

    results = json.loads((report / "results" / "echo.json").read_text())
    assert {cell["outcome"] for cell in results} == {"passed", "not declared", "not applicable"}
    reasons = {cell["check"]: cell["reason"] for cell in results}
    # An address with no seed listener: the reason is the listener, not the container.
    assert reasons["payload/seed-one-read-8192"] == "not applicable: no seed listener", reasons
    assert reasons["max-sessions/exits-after-n"] == (
        "not applicable: the target is an address, this check needs its container"
    ), reasons

    page = (report / "matrix.html").read_text()
    assert_self_contained(page)
    assert '<td class="failed"' in page
    assert "sent 6 bytes: b&#x27;hello\\n&#x27;" in page  # escaped, never markup


def test_the_report_directory_gets_pytests_junit_xml_unless_junitxml_says_where(
    echo_port: int, tmp_path: Path
) -> None:
    good = profile(tmp_path, "echo", echo_port, "")
    report = tmp_path / "report"
    check = ["--check", "payload/echo-exact"]
    result = run_suite(report, good, *check)
    assert result.returncode == 0, result.stdout + result.stderr
    # pytest's own junitxml: its <testsuite name="pytest">, the check's test case by name.
    suite = ET.parse(report / "junit.xml").getroot().find("testsuite")
    assert suite is not None, result.stdout
    assert suite.get("name") == "pytest", ET.tostring(suite)
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0"), ET.tostring(suite)
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["test_every_listener_answers_each_message_exactly[echo]"], names

    elsewhere = tmp_path / "mine.xml"
    other = tmp_path / "other"
    result = run_suite(other, good, *check, "--junitxml", str(elsewhere))
    assert result.returncode == 0, result.stdout + result.stderr
    assert elsewhere.is_file(), result.stdout
    assert not (other / "junit.xml").exists(), sorted(p.name for p in other.iterdir())
    assert (other / "matrix.md").is_file()


def assert_self_contained(page: str) -> None:
    """No element that would fetch anything: no src, no link, no href outside the page."""

    class Refs(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for name, value in attrs:
                if name in ("src", "href") and not (value or "").startswith("#"):
                    self.found.append(f"<{tag} {name}={value}>")
            if tag in ("link", "script", "img", "iframe"):
                self.found.append(f"<{tag}>")

    parser = Refs()
    parser.feed(page)
    assert parser.found == [], parser.found
