"""pytest plugin for `make mutation`'s coverage baseline: which test ran which line.

Loaded as `-p mutation_contexts` (ci/lib on PYTHONPATH) only by the baseline of
ci/lib/mutation_tests.py, with coverage started in every process through
COVERAGE_PROCESS_START. In the pytest process it switches coverage's context to each
test's node ID while the test runs (its setup, call and teardown). A server the test
starts is a subprocess: its coverage takes the context from the PYTEST_CURRENT_TEST it
inherits (the rcfile's `context = ${PYTEST_CURRENT_TEST-}`), which is the node ID and
the phase.

It also writes, to the file MUTATION_GROUPS names, JSON `{"nodes": [IDS],
"shared": [[IDS], ...]}`: every collected node ID, and the groups of tests that share
a fixture wider than one test (a module-scoped server, as in test_golden.py): that
server's lines are recorded under the one test that started it, so a mutant reached
through it runs the whole group.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import coverage
import pytest


def _switch(context: str) -> None:
    current = coverage.Coverage.current()
    if current is not None:
        current.switch_context(context)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    """Lines run from here until the test's end belong to `nodeid`."""
    _switch(nodeid)


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    """Back to no test (a wider fixture's teardown between tests)."""
    _switch("")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Write every node ID and the groups that share a fixture wider than a test."""
    target = os.environ.get("MUTATION_GROUPS")
    if not target:
        return
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item in session.items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        for name, definitions in info.name2fixturedefs.items():
            definition = definitions[-1]
            # Only the project's own fixtures: pytest's (tmp_path_factory, ...) start no server.
            if definition.scope != "function" and definition.baseid.startswith("tests/"):
                shared[(definition.baseid, name)].append(item.nodeid)
    groups = [nodes for nodes in shared.values() if len(nodes) > 1]
    payload = {"nodes": [item.nodeid for item in session.items], "shared": groups}
    Path(target).write_text(json.dumps(payload))
