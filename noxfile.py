"""Developer sessions. `nox` runs lint, types, tests and the generated-files check."""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["lint", "types", "tests", "check-generated"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


def _ensure_dcmtk(session: nox.Session) -> None:
    """The interop tests run dcmtk's tools: install Debian's dcmtk when it is missing
    and we may (root with apt-get); otherwise those tests say they were skipped."""
    if shutil.which("storescp", path="/usr/bin") or not shutil.which("apt-get"):
        return
    if os.geteuid() != 0:
        session.warn("dcmtk is not installed; run: sudo apt-get install dcmtk")
        return
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "dcmtk", external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole pytest suite: unit, golden, corpus, protocol, runtime, apps, interop
    with dcmtk and pynetdicom over 127.0.0.1."""
    _ensure_dcmtk(session)
    session.install("-e", ".", *_group("test"))
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict over the runtime, the generated modules and the generator."""
    session.install("-e", ".", *_group("types"))
    session.run("mypy", "--strict", "src/dimse", "generated/dimse", "codegen")


@nox.session
def generate(session: nox.Session) -> None:
    """Regenerate spec/dicom-services.json, generated/ and docs/ from spec/."""
    session.install("-e", ".", *_group("codegen"))
    session.run("python", "-m", "codegen", *session.posargs)


@nox.session(name="check-generated")
def check_generated(session: nox.Session) -> None:
    """Fail with a diff if anything generated is stale."""
    session.install("-e", ".", *_group("codegen"))
    session.run("python", "-m", "codegen", "--check")


@nox.session
def bench(session: nox.Session) -> None:
    """Timings for the README (never asserted in tests); posargs go to the network
    benchmark (e.g. ``nox -s bench -- --quick``)."""
    session.install("-e", ".", *_group("codegen"))
    session.run("python", "benchmarks/codegen_bench.py")
    session.run("python", "benchmarks/protocol_bench.py")
    # dimse vs pynetdicom vs dcmtk over loopback (needs dcmtk: .ci/run installs it).
    session.install("pynetdicom>=2.1", "sqlalchemy>=2.0")  # sqlalchemy: pynetdicom's qrscp
    session.run("python", "benchmarks/network_bench.py", *session.posargs)
