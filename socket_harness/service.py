"""Getting a target's image and network: what socket_harness.sut runs a target with.

`image_of` builds (for a `Build` source) or takes (for an `Image`) the target's
image; `create_network` makes the labelled bridge network the plugin runs targets
on. The running target itself is socket_harness.sut (ContainerRun,
ExistingAddress); readiness is socket_harness.ready (the protocol, never a log).

Everything created carries the labels of socket_harness.labels, which
`ci/sweep.sh` removes.
"""

from __future__ import annotations

from typing import Any

import docker
import docker.errors

from .labels import harness_labels
from .profile import Build, Image, Target
from .sut import TargetProblem, engine_said

__all__ = ["TargetProblem", "create_network", "image_of"]


def image_of(target: Target, client: docker.DockerClient) -> str:
    """The image ID (or reference) to run for `target`: its `Image` reference (pulled when the
    engine lacks it), or the ID of the image built from its `Build`. TargetProblem (one line)
    when the image is neither on the engine nor pullable; when the build fails, its first
    line is the engine's error (`... returned a non-zero code: 7`, a base image it could not
    pull) and the build's output follows; a failed build leaves no container behind (forcerm)."""
    source = target.source
    if isinstance(source, Image):
        return _present(source.reference, client)
    if not isinstance(source, Build):
        raise TargetProblem(f"{target.name}: an address is not started")
    try:
        image, _ = client.images.build(
            path=str(source.context),
            dockerfile=str(source.dockerfile),
            buildargs=dict(source.args),
            rm=True,
            forcerm=True,  # a failed step's container too, not only successful ones
        )
    except docker.errors.BuildError as exc:
        # The engine's error first (a failed RUN's exit code, an unpullable FROM): that line
        # is what the check x target table shows; the build's output after it, for the detail.
        cause = " ".join(str(exc.msg).split()) or "no error given"
        tail = "".join(str(part.get("stream", part.get("error", ""))) for part in exc.build_log)
        raise TargetProblem(
            f"{target.name}: building {source.context} failed: {cause}\n"
            f"the build's last output:\n{tail[-2000:]}"
        ) from None
    except docker.errors.APIError as exc:
        raise TargetProblem(f"{target.name}: building {source.context} failed: {exc}") from None
    return str(image.id)


def _present(reference: str, client: docker.DockerClient) -> str:
    try:
        client.images.get(reference)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise TargetProblem(f"image {reference}: the engine said {engine_said(exc)}") from None
    else:
        return reference
    try:
        client.images.pull(reference)
    except docker.errors.APIError as exc:
        raise TargetProblem(
            f"image {reference} is not on this engine and could not be pulled: {engine_said(exc)}"
        ) from None
    return reference


def create_network(owner: str) -> Any:
    """A new bridge network for one target, labelled for the sweeper (a testcontainers
    Network; imported here, after socket_harness.sut turned testcontainers' reaper off)."""
    from testcontainers.core.network import Network

    return Network(docker_network_kw={"labels": harness_labels(owner)}).create()
