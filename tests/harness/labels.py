"""Labels carried by every object the suite creates, so teardown and `ci/sweep.sh` find them."""

from __future__ import annotations

import os
import uuid

# `ci/sweep.sh` and `ci/test.sh` filter on this key: keep them in step.
TEST_LABEL = "org.socket-harness.test"
SESSION_LABEL = "org.socket-harness.session"
OWNER_LABEL = "org.socket-harness.owner"

# One id per pytest run (ci/test.sh may pass its own to find this run's objects).
SESSION_ID = os.environ.get("SOCKET_HARNESS_SESSION") or uuid.uuid4().hex[:12]

# Compose projects the suite starts are named with this prefix (the sweeper knows it).
COMPOSE_PROJECT_PREFIX = "socket-harness-test-"


def harness_labels(owner: str) -> dict[str, str]:
    """Labels for one container or network; `owner` names the test or fixture that made it."""
    return {TEST_LABEL: "1", SESSION_LABEL: SESSION_ID, OWNER_LABEL: owner[:200]}
