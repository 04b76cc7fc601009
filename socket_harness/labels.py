"""Labels carried by every Docker object the harness creates, so teardown and `ci/sweep.sh`
find them: the suite's containers and networks, the plugin's targets, `make fuzz`'s container.

The one source of these keys (socket_harness.service, socket_harness.sut, tests/harness).

One run is one session id, shared by every pytest-xdist worker of the run (the
controller exports it before the workers start, and they inherit it); within a
run, the worker label says which worker made an object.
"""

from __future__ import annotations

import os
import uuid

# `ci/sweep.sh` and `ci/test.sh` filter on these keys: keep them in step.
TEST_LABEL = "org.socket-harness.test"
SESSION_LABEL = "org.socket-harness.session"
OWNER_LABEL = "org.socket-harness.owner"
WORKER_LABEL = "org.socket-harness.worker"

SESSION_ENV = "SOCKET_HARNESS_SESSION"
# One id per run (ci/test.sh may pass its own to find this run's objects). Exported, so
# the xdist workers this process starts, and compose, carry the same id.
SESSION_ID = os.environ.get(SESSION_ENV) or uuid.uuid4().hex[:12]
os.environ[SESSION_ENV] = SESSION_ID

# The worker label's value outside pytest-xdist (a run without -n, or its controller).
NOT_A_WORKER = "main"

# Compose projects the suite starts are named with this prefix (the sweeper knows it).
COMPOSE_PROJECT_PREFIX = "socket-harness-test-"


def worker_id() -> str:
    """This process's pytest-xdist worker id ("gw0", "gw1", ...: xdist sets
    PYTEST_XDIST_WORKER in each worker before it loads the suite), else "main"."""
    return os.environ.get("PYTEST_XDIST_WORKER") or NOT_A_WORKER


def harness_labels(owner: str) -> dict[str, str]:
    """Labels for one container or network: {label: value}; `owner` names the test or fixture
    that made it (cut to 200 characters), the worker label the xdist worker it ran on."""
    return {
        TEST_LABEL: "1",
        SESSION_LABEL: SESSION_ID,
        WORKER_LABEL: worker_id(),
        OWNER_LABEL: owner[:200],
    }
