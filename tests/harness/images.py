"""This checkout's images, built by socket_harness/images.py (re-exported for the suite)."""

from socket_harness.images import (
    APPS,
    BASE_IMAGE_FILE,
    BUILD_TIMEOUT,
    ROOT,
    BuiltImage,
    ImageProblem,
    base_image,
    build,
    build_images,
    parse_built,
)

__all__ = [
    "APPS",
    "BASE_IMAGE_FILE",
    "BUILD_TIMEOUT",
    "ROOT",
    "BuiltImage",
    "ImageProblem",
    "base_image",
    "build",
    "build_images",
    "parse_built",
]
