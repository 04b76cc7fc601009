"""Targets a campaign fuzzes: the server in its container (default), a local process, or URLs.

A target gives the properties its addresses and limits, and when it stops it
hands over the coverage data its server wrote (container and local targets run
the server under `coverage run`, settings in socket_harness/fuzz/coveragerc).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..profile import Readiness
from ..project import project_target
from ..sut import HostProcess, TargetProblem
from .properties import Target as Limits

REPO = Path(__file__).resolve().parents[2]
COVERAGERC = Path(__file__).with_name("coveragerc")
# The limits the project's server is fuzzed with: small enough that every limit is reachable
# (seed's too-large within one TCP segment), an idle timeout a property can wait for.
FUZZ_MAX_MESSAGE_BYTES = 1000
FUZZ_IDLE_TIMEOUT = 2.0
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_LISTENING = re.compile(r"event=listening listener=(\w+)://(\S+):(\d+)")


class TargetError(Exception):
    """The target could not be started or reached; the message says what to do."""


@dataclass
class Stopped:
    """How the target ended: exit code (None: not ours to stop), its log's error counts."""

    exit_code: int | None = None
    summary: str = ""
    problems: list[str] = field(default_factory=list)


class FuzzTarget(Protocol):
    description: str
    limits: Limits
    coverage_dir: Path | None

    def address(self, framing: str) -> tuple[str, int]: ...
    def stop(self) -> Stopped: ...


def server_args(max_message_bytes: int, idle_timeout: float) -> list[str]:
    """The server options a campaign runs the project's server with."""
    return [
        "--max-message-bytes",
        str(max_message_bytes),
        "--idle-timeout",
        f"{idle_timeout:g}",
        "--log-level",
        "warning",  # one line per connection would flood the log
        "--health",
        "",
        "--loop",
        "asyncio",
    ]


def _problems(log: str) -> list[str]:
    """Log lines that mean a bug, not peer misbehaviour: internal errors, tracebacks."""
    return [
        line
        for line in log.splitlines()
        if "reason=internal" in line or line.startswith("Traceback")
    ][:20]


def _summary(log: str) -> str:
    return next((line for line in reversed(log.splitlines()) if "event=summary" in line), "")


class ExternalTarget:
    """A target someone else runs: URLs (one per framing it speaks) and its stated limits."""

    coverage_dir: Path | None = None

    def __init__(self, urls: list[str], limits: Limits) -> None:
        self._addresses: dict[str, tuple[str, int]] = {}
        for url in urls:
            scheme, sep, rest = url.partition("://")
            host, _, port = rest.rpartition(":")
            if not sep or scheme not in ("seed", "line", "frame") or not port.isdigit():
                raise TargetError(f"{url!r}: expected seed://, line:// or frame://HOST:PORT")
            self._addresses[scheme] = (host.strip("[]"), int(port))
        self.limits = Limits(limits.max_message_bytes, limits.idle_timeout, tuple(self._addresses))
        self.description = " ".join(urls)

    def address(self, framing: str) -> tuple[str, int]:
        return self._addresses[framing]

    def stop(self) -> Stopped:
        return Stopped()


class LocalTarget:
    """`python -m MODULE` on 127.0.0.1 (ephemeral ports) under `coverage run`: the project's
    server (socket_harness.project) run by socket_harness.sut.HostProcess."""

    def __init__(self, module: str, coverage_dir: Path, limits: Limits) -> None:
        self.limits = limits
        self.coverage_dir: Path | None = coverage_dir
        coverage_dir.mkdir(parents=True, exist_ok=True)
        urls = [f"{framing}://127.0.0.1:0" for framing in limits.framings]
        args = [arg for url in urls for arg in ("--listen", url)]
        args += server_args(limits.max_message_bytes, limits.idle_timeout)
        target = project_target(urls, environment={}, command=args)
        command = [sys.executable, "-m", "coverage", "run", f"--rcfile={COVERAGERC}"]
        command += ["-m", module, *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVER_")}
        env |= {"PYTHONPATH": str(REPO), "COVERAGE_DATA_DIR": str(coverage_dir)}
        self.description = f"python -m {module} " + " ".join(shlex.quote(arg) for arg in args)
        # Its own session: the terminal's Ctrl-C reaches the campaign, which stops it.
        self._sut = HostProcess(
            target,
            command,
            env=env,
            cwd=REPO,
            stderr=subprocess.STDOUT,
            new_session=True,
            ready=False,
        )
        try:
            self._wait_ready()
        except TargetProblem as exc:
            self.stop()
            raise TargetError(f"{self.description}: not ready: {exc}") from None

    def _wait_ready(self) -> None:
        """Port 0: the addresses are told in the log (`listening`, then `ready`); readiness
        itself is socket_harness.ready's (LISTEN state, no connection made)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not any("event=ready" in line for line in self._sut.stdout):
            self._sut.check_running()
            if time.monotonic() > deadline:
                tail = " | ".join(self._sut.stdout[-5:])
                raise TargetProblem(f"no ready line within {READY_TIMEOUT:g} s: {tail}")
            time.sleep(0.05)
        found = [_LISTENING.search(line) for line in self._sut.stdout]
        listeners = {item.framing.value: item for item in self._sut.target.listeners}
        for match in filter(None, found):
            self._sut.set_address(listeners[match[1]], match[2], int(match[3]))
        self._sut.wait_ready(Readiness.LISTENING, READY_TIMEOUT)

    def address(self, framing: str) -> tuple[str, int]:
        return self._sut.address(next(i for i in self._sut.target.listeners if i.name == framing))

    def stop(self) -> Stopped:
        if self._sut.proc.poll() is None:
            self._sut.send_signal("SIGTERM")  # a graceful drain, then coverage saves
        try:
            code = self._sut.wait_exit(STOP_TIMEOUT)
        except TargetProblem:
            self._sut.remove()
            code = self._sut.proc.returncode
        log = self._sut.logs()
        self._sut.remove()
        return Stopped(code, _summary(log), _problems(log))


def collect_coverage(data_dir: Path, out_dir: Path) -> dict[str, object]:
    """Combine the server's coverage data into HTML, text and JSON reports in `out_dir`.

    Returns the JSON report's totals (lines and branches of server/ and protocol/),
    or {"error": why} when there is no data (a server killed before it saved).
    """
    import json

    import coverage

    files = sorted(data_dir.glob(".coverage.*"))
    if not files:
        return {"error": f"no coverage data in {data_dir} (the server never exited cleanly?)"}
    out_dir.mkdir(parents=True, exist_ok=True)
    cov = coverage.Coverage(data_file=str(out_dir / ".coverage"), config_file=str(COVERAGERC))
    with contextlib.chdir(REPO):  # [paths] maps /app/... onto the checkout's relative paths
        cov.combine([str(path) for path in files], keep=True)
        cov.save()
        cov.html_report(directory=str(out_dir / "html"), title="server/ and protocol/ while fuzzed")
        with (out_dir / "coverage.txt").open("w") as text:
            cov.report(file=text)
        cov.json_report(outfile=str(out_dir / "coverage.json"))
    totals = json.loads((out_dir / "coverage.json").read_text())["totals"]
    return {
        "lines": f"{totals['covered_lines']}/{totals['num_statements']}",
        "branches": f"{totals['covered_branches']}/{totals['num_branches']}",
        "percent": round(float(totals["percent_covered"]), 1),
    }
