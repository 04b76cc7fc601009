"""The decoders' atheris fuzzers, run beside the network campaign in turns, niced.

Each decoder (line, frame) runs for a slice of `slice_seconds` at a time with
libFuzzer's own time bound, reading the kept seeds in tests/corpus/DECODER and
growing a machine-local corpus in build/fuzz/corpus/DECODER (kept between
runs, like .hypothesis/). A crash file is libFuzzer's minimised input, written
under the report directory; that decoder is then not run again.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .targets import REPO

DECODERS = ("line", "frame")
_RUNS = re.compile(r"^#(\d+)\s")
_COV = re.compile(r"cov: (\d+) ft: (\d+)")


@dataclass
class DecoderStats:
    """Runs so far, the edges libFuzzer saw (cov, features), the corpus and any crash."""

    name: str
    runs: int = 0
    cov: int = 0
    features: int = 0
    corpus: int = 0
    crash: str = ""
    seconds: float = 0.0


@dataclass
class DecoderFuzzing:
    """Runs the decoders' fuzzers in turns on a thread until `stop()`."""

    artifacts: Path
    slice_seconds: int = 30
    stats: dict[str, DecoderStats] = field(
        default_factory=lambda: {name: DecoderStats(name) for name in DECODERS}
    )
    _stopping: threading.Event = field(default_factory=threading.Event)
    _proc: subprocess.Popen[str] | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            live = [name for name in DECODERS if not self.stats[name].crash]
            if not live:
                return
            for name in live:
                if self._stopping.is_set():
                    return
                self._slice(name)

    def _slice(self, name: str) -> None:
        stats = self.stats[name]
        corpus = REPO / "build" / "fuzz" / "corpus" / name
        corpus.mkdir(parents=True, exist_ok=True)
        command = ["nice", "-n", "10", sys.executable, "-m", "socket_harness.fuzz.decoders", name]
        command += [str(corpus), str(REPO / "tests" / "corpus" / name)]
        command += [f"-max_total_time={self.slice_seconds}", "-print_final_stats=1"]
        command.append(f"-artifact_prefix={self.artifacts}/{name}-")
        before = set(self.artifacts.glob(f"{name}-*"))
        begun = time.monotonic()
        self._proc = subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # the terminal's Ctrl-C is the campaign's to handle
        )
        assert self._proc.stderr is not None
        runs_before = stats.runs
        for line in self._proc.stderr:
            if found := _COV.search(line):
                stats.cov, stats.features = max(stats.cov, int(found[1])), int(found[2])
            if found := _RUNS.search(line):
                stats.runs = runs_before + int(found[1])
        self._proc.wait()
        stats.seconds += time.monotonic() - begun
        stats.corpus = sum(1 for _ in corpus.iterdir())
        crashes = sorted(set(self.artifacts.glob(f"{name}-*")) - before)
        if crashes:
            stats.crash = str(crashes[0])

    def stop(self) -> None:
        """End the running slice (SIGINT: libFuzzer prints its stats and exits) and wait."""
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        if self._thread is not None:
            self._thread.join(30)
