"""The harness labels, defined once in socket_harness/labels.py (re-exported for the suite)."""

from socket_harness.labels import (
    COMPOSE_PROJECT_PREFIX,
    NOT_A_WORKER,
    OWNER_LABEL,
    SESSION_ENV,
    SESSION_ID,
    SESSION_LABEL,
    TEST_LABEL,
    WORKER_LABEL,
    harness_labels,
    worker_id,
)

__all__ = [
    "COMPOSE_PROJECT_PREFIX",
    "NOT_A_WORKER",
    "OWNER_LABEL",
    "SESSION_ENV",
    "SESSION_ID",
    "SESSION_LABEL",
    "TEST_LABEL",
    "WORKER_LABEL",
    "harness_labels",
    "worker_id",
]
