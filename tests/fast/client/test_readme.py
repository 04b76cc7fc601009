"""README's library example runs as written against a real server on this host."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.fast.client.helpers import CLI_TIMEOUT
from tests.fast.server.process import REPO_ROOT, RunningServer

# The server's default listeners (README, Server: `--listen`), which the example names.
DEFAULT_URLS = {
    "seed://127.0.0.1:9000": "seed",
    "line://127.0.0.1:9001": "line",
    "frame://127.0.0.1:9002": "frame",
}


def library_example() -> str:
    """The first python block after README's `### Library` heading."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Library\n", 1)[1]
    block = re.search(r"^```python\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert block is not None, "no python block under ### Library"
    return block.group(1)


def test_library_example_names_only_the_hosts_default_listeners() -> None:
    code = "\n".join(
        line for line in library_example().splitlines() if not line.lstrip().startswith("#")
    )
    urls = re.findall(r"\b[a-z]+://[^\"'\s]+", code)
    assert urls
    assert set(urls) <= set(DEFAULT_URLS), urls  # e.g. no Compose-only `server` host


def test_library_example_runs_as_written(server: RunningServer) -> None:
    code = library_example()
    for url, framing in DEFAULT_URLS.items():  # the same server, on its test ports
        code = code.replace(url, server.url(framing))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert (done.stdout, done.stderr) == (b"", b"")
