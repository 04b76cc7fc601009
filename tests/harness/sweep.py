"""Remove what this run left behind: the safety net under the fixtures' own teardown."""

from __future__ import annotations

import contextlib

import docker
import docker.errors

from .labels import COMPOSE_PROJECT_PREFIX, SESSION_ID, SESSION_LABEL, TEST_LABEL

Filters = dict[str, str | list[str] | bool]


def compose_project_objects(project: str) -> list[str]:
    """Containers and networks of one compose project (empty once `down` did its job)."""
    client = docker.from_env(timeout=30)
    try:
        filters: Filters = {"label": [f"com.docker.compose.project={project}"]}
        containers = client.containers.list(all=True, filters=filters)
        networks = client.networks.list(filters=filters)
        return [f"container {c.name}" for c in containers] + [f"network {n.name}" for n in networks]
    finally:
        client.close()


def sweep_session(session: str = SESSION_ID) -> list[str]:
    """Force-remove containers and networks labelled with `session`; what was removed."""
    client = docker.from_env(timeout=30)
    removed: list[str] = []
    try:
        filters: Filters = {"label": [TEST_LABEL, f"{SESSION_LABEL}={session}"]}
        for container in client.containers.list(all=True, filters=filters):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
                removed.append(f"container {container.name}")
        # Compose labels its objects with the project; ours start with prefix + session.
        project_key = "com.docker.compose.project"
        ours = f"{COMPOSE_PROJECT_PREFIX}{session}"
        compose: Filters = {"label": [project_key]}
        for container in client.containers.list(all=True, filters=compose):
            if container.labels.get(project_key, "").startswith(ours):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
                    removed.append(f"container {container.name}")
        networks = client.networks.list(filters=filters) + client.networks.list(filters=compose)
        for network in networks:
            labels = network.attrs.get("Labels") or {}
            if TEST_LABEL in labels or str(labels.get(project_key, "")).startswith(ours):
                with contextlib.suppress(docker.errors.NotFound):
                    network.remove()
                    removed.append(f"network {network.name}")
    finally:
        client.close()
    return removed
