"""Remove what this run left behind: the safety net under the fixtures' own teardown."""

from __future__ import annotations

import contextlib

import docker
import docker.errors

from .labels import COMPOSE_PROJECT_PREFIX, SESSION_ID, SESSION_LABEL, TEST_LABEL

Filters = dict[str, str | list[str] | bool]


PROJECT_LABEL = "com.docker.compose.project"  # set by Compose on what it creates


def compose_project_objects(project: str) -> list[str]:
    """Containers and networks of one compose project (empty once `down` did its job)."""
    client = docker.from_env(timeout=30)
    try:
        filters: Filters = {"label": [f"{PROJECT_LABEL}={project}"]}
        containers = client.containers.list(all=True, filters=filters)
        networks = client.networks.list(filters=filters)
        return [f"container {c.name}" for c in containers] + [f"network {n.name}" for n in networks]
    finally:
        client.close()


def sweep_session(session: str = SESSION_ID) -> list[str]:
    """Force-remove this session's containers and networks: labelled with its id, or in one
    of its compose projects (named prefix + id); what was removed."""
    ours = f"{COMPOSE_PROJECT_PREFIX}{session}"

    def mine(labels: dict[str, str]) -> bool:
        labelled = TEST_LABEL in labels and labels.get(SESSION_LABEL) == session
        return labelled or labels.get(PROJECT_LABEL, "").startswith(ours)

    # One query per label: a filter cannot say "this label or that one".
    queries: list[Filters] = [
        {"label": [TEST_LABEL, f"{SESSION_LABEL}={session}"]},
        {"label": [PROJECT_LABEL]},
    ]
    client = docker.from_env(timeout=30)
    removed: list[str] = []
    try:
        containers = {c.id: c for f in queries for c in client.containers.list(all=True, filters=f)}
        for container in containers.values():
            if mine(container.labels):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
                    removed.append(f"container {container.name}")
        networks = {n.id: n for f in queries for n in client.networks.list(filters=f)}
        for network in networks.values():
            if mine(network.attrs.get("Labels") or {}):
                with contextlib.suppress(docker.errors.NotFound):
                    network.remove()
                    removed.append(f"network {network.name}")
    finally:
        client.close()
    return removed
