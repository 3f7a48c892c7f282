"""The command line itself: dispatcher, --help/--version, pynetdicom-compatible flags,
and expected failures reported as one line with a documented exit status."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _app_procs import LAUNCHERS, SCRIPT, assert_one_liner, free_port, make_file, run

APPS = ("echoscu", "echoscp", "storescu", "storescp")


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_dispatcher_lists_apps_and_version(launcher: str) -> None:
    if launcher == "script" and not SCRIPT.exists():
        pytest.skip("the dimse console script is not installed next to this Python")
    result = run(["--help"], launcher=LAUNCHERS[launcher])
    assert result.returncode == 0
    for app in APPS:
        assert app in result.stdout
    version = run(["--version"], launcher=LAUNCHERS[launcher])
    assert version.returncode == 0
    assert re.match(r"dimse \d+\.\d+", version.stdout)


def test_dispatcher_rejects_unknown_app_and_no_app() -> None:
    unknown = run(["nosuchscu"])
    assert unknown.returncode == 2
    assert "unknown app 'nosuchscu'" in unknown.stderr
    assert run([]).returncode == 2


def _options(help_text: str) -> set[str]:
    """Option strings in an argparse help text ("-aet", "--called-aet", "-x=")."""
    found: set[str] = set()
    for line in help_text.splitlines():
        for token in re.findall(r"(?:^|[\s,])(--?[A-Za-z][\w=-]*)", line.strip()):
            found.add(token)
    return found


@pytest.mark.parametrize("app", APPS)
def test_help_exit_codes_and_pynetdicom_flags(app: str) -> None:
    ours = run([app, "--help"])
    assert ours.returncode == 0, ours.stderr
    assert "exit status:" in ours.stdout
    assert re.search(r"^\s+0\s+success$", ours.stdout, re.MULTILINE)
    theirs = subprocess.run(
        [sys.executable, "-m", "pynetdicom", app, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if theirs.returncode != 0:
        pytest.skip(f"pynetdicom {app} is not available: {theirs.stderr[-200:]}")
    missing = _options(theirs.stdout) - _options(ours.stdout)
    assert not missing, f"pynetdicom {app} flags we lack: {sorted(missing)}"


@pytest.mark.parametrize("app", APPS)
def test_version_flag(app: str) -> None:
    result = run([app, "--version"])
    assert result.returncode == 0
    assert result.stdout.startswith(f"dimse {app} ")


def test_echoscu_dead_port_is_a_one_liner() -> None:
    port = free_port()  # nothing listens there: connection refused
    result = run(["echoscu", "127.0.0.1", str(port)])
    assert result.returncode == 3
    assert_one_liner(result, "echoscu", f"cannot connect to 127.0.0.1:{port}: Connection refused")
    assert result.stdout == ""


def test_storescu_dead_port_still_summarises(tmp_path: Path) -> None:
    port = free_port()
    make_file(tmp_path / "ct.dcm")
    result = run(["storescu", "127.0.0.1", str(port), str(tmp_path / "ct.dcm")])
    assert result.returncode == 3
    assert_one_liner(result, "storescu", "Connection refused")
    assert "0 stored, 1 failed" in result.stdout


def test_bad_arguments_exit_2() -> None:
    assert run(["echoscu", "127.0.0.1", "notaport"]).returncode == 2
    assert run(["echoscu", "127.0.0.1", "70000"]).returncode == 2
    assert run(["storescp", "11112", "-pdu", "12"]).returncode == 2
    long_title = run(["echoscu", "127.0.0.1", "104", "-aet", "A" * 17])
    assert long_title.returncode == 2
    assert_one_liner(long_title, "echoscu", "AE title is 1 to 16")
    backslash = run(["echoscu", "127.0.0.1", "104", "-aet", "AB\\CD"])
    assert backslash.returncode == 2
    assert_one_liner(backslash, "echoscu", "without backslash or control characters")


def test_unusable_output_directory_and_tls_files(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(["storescp", "0", "-ba", "127.0.0.1", "-od", str(blocker / "sub")])
    assert result.returncode == 2
    assert_one_liner(result, "storescp", "cannot create output directory")
    get = ["getscu", "127.0.0.1", "104", "-S", "-k", "QueryRetrieveLevel=STUDY"]
    for app in (["storescp", "0", "-ba", "127.0.0.1"], [*get, "-k", "StudyInstanceUID=1.2"]):
        on_file = run([*app, "-od", str(blocker)])
        assert on_file.returncode == 2, on_file.stderr
        assert_one_liner(on_file, app[0], "is a file, not a directory")
    no_cert = run(["echoscp", "0", "-ba", "127.0.0.1", "--tls"])
    assert no_cert.returncode == 2
    assert_one_liner(no_cert, "echoscp", "needs --tls-cert")
    missing = run(["echoscu", "127.0.0.1", "104", "--tls-ca", str(tmp_path / "none.pem")])
    assert missing.returncode == 2
    assert_one_liner(missing, "echoscu", "cannot load TLS files")


def test_storescu_with_nothing_to_send(tmp_path: Path) -> None:
    result = run(["storescu", "127.0.0.1", str(free_port()), str(tmp_path)])
    assert result.returncode == 1
    assert_one_liner(result, "storescu", "no files to send")


def test_listen_on_a_busy_port_is_a_one_liner() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(["echoscp", str(port), "-ba", "127.0.0.1"])
    assert result.returncode == 3
    assert_one_liner(result, "echoscp", "Address already in use")


def test_keep_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc is told to keep freed buffers (it answers mallopt with 1); the environment
    switch and other platforms leave malloc alone."""
    import platform
    import sys

    from dimse.apps._common import keep_freed_memory

    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert keep_freed_memory() is True
    monkeypatch.setenv("DIMSE_NO_MALLOPT", "1")
    assert keep_freed_memory() is False
    monkeypatch.delenv("DIMSE_NO_MALLOPT")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
