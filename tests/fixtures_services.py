"""Session-scoped service fixtures, resolved in this order: an environment variable naming a
running server, then testcontainers when a Docker daemon answers, then skip with the reason
(a failure when IMAGEREPO_TEST_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("IMAGEREPO_TEST_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip, or fail when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True
