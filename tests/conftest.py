"""Shared fixtures; service fixtures (PostgreSQL, S3) live in their own plugin modules."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.fixtures_services", "tests.no_skips", "pytester"]

# Hypothesis's per-example deadline and its too-slow health check are wall-clock assertions: on a
# loaded 2-core CI machine they fail tests whose behaviour is right. Timing lives in bench/.
settings.register_profile("imagerepo", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("imagerepo")
