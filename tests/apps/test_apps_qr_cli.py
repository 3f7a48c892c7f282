"""The Q/R apps' command lines: defaults, -k/-f queries, configuration files,
pynetdicom-compatible flags, and bad input reported as one line with exit status 2."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _app_procs import DIMSE, STOP_TIMEOUT, assert_one_liner, instance_uid, make_file, run
from _qr_procs import popen, wait_for


def test_qrscp_defaults_in_the_current_directory(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    with popen(
        [*DIMSE, "qrscp", "0", "-ba", "127.0.0.1", "--port-file", str(port_file)], cwd=tmp_path
    ) as proc:
        wait_for(port_file.exists, 20, "qrscp to listen")
        echo = run(["echoscu", "127.0.0.1", port_file.read_text().strip(), "-aec", "QRSCP"])
        assert echo.returncode == 0, echo.stderr
        proc.send_signal(signal.SIGINT)
        assert proc.wait(STOP_TIMEOUT) == 0
    assert (tmp_path / "qrscp.sqlite").is_file()
    assert (tmp_path / "qrscp-store" / ".incoming").is_dir()


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["-k", "NoSuchKeyword="], "unknown keyword 'NoSuchKeyword'"),
        (["-k", "PatientName[0]=x"], "is not a sequence"),
        (["-k", "ReferencedStudySequence=1"], "a sequence takes items"),
        (["-k", "Rows=abc"], "'abc' is not a valid US value"),
        (["-f", "/nonexistent/query.dcm"], "cannot read the query file"),
    ],
)
def test_bad_queries_are_one_liners(args: list[str], text: str) -> None:
    result = run(["findscu", "127.0.0.1", "1", *args])
    assert result.returncode == 2
    assert_one_liner(result, "findscu", text)


def test_qrscp_bad_settings_are_one_liners(tmp_path: Path) -> None:
    config = tmp_path / "bad.ini"
    config.write_text("[DEFAULT]\nport: 99999\n")
    result = run(["qrscp", "-c", str(config)])
    assert result.returncode == 2
    assert_one_liner(result, "qrscp", f"{config} [DEFAULT] port: '99999'")
    config.write_text("[DEFAULT]\n[STORESCP]\naddress: 127.0.0.1\n")
    result = run(["qrscp", "-c", str(config)])
    assert_one_liner(result, "qrscp", "[STORESCP]: a move destination needs port")
    result = run(["qrscp", "--move-aet", "STORESCP"])
    assert result.returncode == 2 and "is not AET=host:port" in result.stderr
    nothing = run(["getscu", "127.0.0.1", "1"])
    assert nothing.returncode == 2 and "-f and/or -k must be specified" in nothing.stderr


@pytest.mark.parametrize("app", ["findscu", "getscu", "movescu", "qrscp"])
def test_help_has_every_pynetdicom_flag(app: str) -> None:
    def flags(text: str) -> set[str]:
        return set(re.findall(r"(?:^|[\s,])(--?[A-Za-z][\w=-]*)", text, re.MULTILINE))

    ours = run([app, "--help"])
    assert ours.returncode == 0 and "exit status:" in ours.stdout
    theirs = subprocess.run(
        [sys.executable, "-m", "pynetdicom", app, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if theirs.returncode != 0:
        pytest.skip(f"pynetdicom {app} is not available: {theirs.stderr[-200:]}")
    assert not flags(theirs.stdout) - flags(ours.stdout)
    assert run([app, "--version"]).stdout.startswith(f"dimse {app} ")


def test_query_file_and_keys(tmp_path: Path) -> None:
    """-f gives the identifier, -k adds and overrides; paths reach into sequences."""
    from dimse.apps._qr_scu import build_identifier

    query = make_file(tmp_path / "q.dcm", pixels=0)
    args = argparse.Namespace(
        file=str(query),
        keyword=[
            "PatientName=SMITH*",
            "(0008,0052)=STUDY",
            "ModalitiesInStudy=CT\\MR",
            "ReferencedStudySequence[1].ReferencedSOPInstanceUID=1.2.3",
            "OtherPatientIDsSequence=",
            "ProcedureCodeSequence[0]=",
            "Rows=512",
            "0010,0020=PID-7",  # dcmtk's spelling
        ],
    )
    ds = build_identifier(args)
    assert "file_meta" not in ds.__dict__ or not getattr(ds, "file_meta", None)
    assert str(ds.PatientName) == "SMITH*"
    assert ds.QueryRetrieveLevel == "STUDY"
    assert list(ds.ModalitiesInStudy) == ["CT", "MR"]
    assert len(ds.ReferencedStudySequence) == 2
    assert ds.ReferencedStudySequence[1].ReferencedSOPInstanceUID == "1.2.3"
    assert len(ds.OtherPatientIDsSequence) == 0
    assert len(ds.ProcedureCodeSequence) == 1 and len(ds.ProcedureCodeSequence[0]) == 0
    assert ds.Rows == 512
    assert ds.PatientID == "PID-7"
    assert ds.SOPInstanceUID == instance_uid(query)  # kept from the file


def test_pynetdicom_default_ini_is_read(tmp_path: Path) -> None:
    pynetdicom = pytest.importorskip("pynetdicom")
    from dimse.apps._qr_config import Settings, read_config

    default = Path(pynetdicom.__file__).parent / "apps" / "qrscp" / "default.ini"
    if not default.exists():
        pytest.skip("pynetdicom ships no qrscp default.ini")
    settings = Settings()
    read_config(default, settings)
    assert (settings.ae_title, settings.port, settings.max_pdu) == ("QRSCP", 11112, 16382)
    assert settings.network_timeout == 30
    assert settings.instance_location == default.parent / "instances"
    assert settings.database_location == default.parent / "instances.sqlite"
    assert {t: (d.address, d.port) for t, d in settings.destinations.items()} == {
        "STORESCP": ("127.0.0.1", 11113)
    }
    assert Settings().port == 11112 and Settings().ae_title == "QRSCP"
    assert os.fspath(Settings().database_location) == "qrscp.sqlite"


def test_getscu_storage_contexts_fit_in_128() -> None:
    from dimse.ae import AE
    from dimse.apps.getscu import COMMON_STORAGE, propose_storage

    ct, private = "1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.10.1066.9"
    ae = AE()
    ae.add_requested_context("1.2.840.10008.5.1.4.1.2.2.3")  # Study Root GET
    assert propose_storage(ae, [private]) == 0
    contexts = ae.requested_contexts[1:]
    assert contexts[0].abstract_syntax == private  # --storage-class first
    classes = {c.abstract_syntax for c in contexts}
    assert len(classes) == len(COMMON_STORAGE) + 1 and len(contexts) == 2 * len(classes)
    assert [c.transfer_syntaxes for c in contexts if c.abstract_syntax == ct] == [
        ("1.2.840.10008.1.2.1",),
        ("1.2.840.10008.1.2",),
    ]
    assert all(c.scp_role and not c.scu_role for c in contexts)
    crowded = AE()
    for n in range(68):  # 60 left: one context each once two do not fit
        crowded.add_requested_context(f"1.2.3.{n}")
    assert propose_storage(crowded, []) == 0
    assert len(crowded.requested_contexts) == 128
    assert len({c.abstract_syntax for c in crowded.requested_contexts[68:]}) == 55
    full = AE()
    for n in range(100):
        full.add_requested_context(f"1.2.3.{n}")
    assert propose_storage(full, []) == len(COMMON_STORAGE) - 28
