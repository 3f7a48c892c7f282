"""Command-line apps: ``dimse <app> ...`` (placeholder until the apps land)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("dimse: apps not installed yet")
