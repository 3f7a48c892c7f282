"""Shared fixtures: the project root and the spec built from the real sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI machines are small and shared: no per-example deadlines, no "generation is slow"
# failures. Example counts stay as each test sets them.
settings.register_profile(
    "dimse",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("dimse")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
