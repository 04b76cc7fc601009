"""`--conformance-report DIR`: the checks x targets matrix (socket_harness/report.py), from a
real run of the conformance suite against a line echo on loopback (an address target).

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
from pathlib import Path

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

    results = json.loads((report / "results" / "echo.json").read_text())
    assert {cell["outcome"] for cell in results} == {"passed", "not declared", "not applicable"}

    page = (report / "matrix.html").read_text()
    assert_self_contained(page)
    assert '<td class="failed"' in page
    assert "sent 6 bytes: b&#x27;hello\\n&#x27;" in page  # escaped, never markup


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
