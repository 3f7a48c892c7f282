"""The Query/Retrieve apps against each other, as processes: storescu -> qrscp, then
findscu at every level of every model, getscu, movescu (to a storescp and --store),
restarts, a crash in the middle of a C-STORE, and a C-CANCEL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from _app_procs import (
    DIMSE,
    STOP_TIMEOUT,
    assert_one_liner,
    dimse_server,
    free_port,
    instance_uid,
    make_file,
    run,
)
from _qr_procs import (
    check_same_datasets,
    make_corpus,
    make_protocol_approval,
    popen,
    table_rows,
    throttled_proxy,
    wait_for,
)
from pydicom import dcmread
from pydicom.uid import MRImageStorage, generate_uid

HERE = Path(__file__).parent


def _study_uid(paths: list[Path]) -> str:
    return str(dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID)


def _series_uid(paths: list[Path]) -> str:
    return str(dcmread(paths[0], stop_before_pixels=True).SeriesInstanceUID)


@pytest.fixture(scope="module")
def qr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A storescp (move destination STORESCP), then a qrscp holding three studies and a
    Protocol Approval; INLINE is a port kept for movescu --store."""
    tmp = tmp_path_factory.mktemp("qr")
    corpus = make_corpus(tmp / "in")
    approval = make_protocol_approval(tmp / "in" / "pa" / "pa.dcm", generate_uid())
    inline_port = free_port()
    with dimse_server("storescp", ["-od", str(tmp / "moved")], tmp / "storescp") as storescp:
        args = [
            "--database-location",
            str(tmp / "qr.sqlite"),
            "--instance-location",
            str(tmp / "store"),
            "--move-aet",
            f"STORESCP=127.0.0.1:{storescp.port}",
            "--move-aet",
            f"INLINE=127.0.0.1:{inline_port}",
            "--no-fsync",
            "-v",
        ]
        with dimse_server("qrscp", args, tmp / "qrscp") as qrscp:
            stored = run(
                ["storescu", "127.0.0.1", str(qrscp.port), str(tmp / "in"), "-r", "-aec", "QRSCP"]
            )
            assert stored.returncode == 0, stored.stdout + stored.stderr + qrscp.output
            assert "8 stored, 0 failed" in stored.stdout
            yield SimpleNamespace(
                tmp=tmp,
                port=qrscp.port,
                server=qrscp,
                corpus=corpus,
                approval=approval,
                moved=tmp / "moved",
                inline_port=inline_port,
            )


def _find(qr: SimpleNamespace, *args: str) -> subprocess.CompletedProcess[str]:
    return run(["findscu", "127.0.0.1", str(qr.port), "-aec", "QRSCP", *args])


# -- C-FIND -----------------------------------------------------------------------------------
def test_find_study_root_every_level(qr: SimpleNamespace) -> None:
    result = _find(
        qr,
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "PatientName=DOE*",
        "-k",
        "StudyInstanceUID=",
        "-k",
        "StudyDate=",
    )
    assert result.returncode == 0, result.stderr + qr.server.output
    header = result.stdout.splitlines()[0].split()
    assert header == ["PatientName", "StudyInstanceUID", "StudyDate"]  # the -k order
    rows = table_rows(result.stdout)
    assert sorted(r[1] for r in rows) == sorted(_study_uid(qr.corpus[s]) for s in ("doe1", "doe2"))
    assert "2 matches; final status 0x0000 Success" in result.stdout

    roe = qr.corpus["roe"]
    series = _find(
        qr,
        "-S",
        "-k",
        "QueryRetrieveLevel=SERIES",
        "-k",
        f"StudyInstanceUID={_study_uid(roe)}",
        "-k",
        "SeriesInstanceUID=",
        "-k",
        "Modality=",
        "-k",
        "NumberOfSeriesRelatedInstances=",
    )
    assert series.returncode == 0, series.stderr
    assert table_rows(series.stdout) == [[_study_uid(roe), _series_uid(roe), "CT", "3"]]

    images = _find(
        qr,
        "-S",
        "-k",
        "QueryRetrieveLevel=IMAGE",
        "-k",
        f"SeriesInstanceUID={_series_uid(roe)}",
        "-k",
        "SOPInstanceUID=",
        "-k",
        "InstanceNumber=",
    )
    assert images.returncode == 0, images.stderr
    assert sorted(r[1] for r in table_rows(images.stdout)) == sorted(map(instance_uid, roe))


def test_find_patient_root_and_patient_study_only(qr: SimpleNamespace) -> None:
    for model in ("-P", "-O"):
        patients = _find(
            qr,
            model,
            "-k",
            "QueryRetrieveLevel=PATIENT",
            "-k",
            "PatientID=",
            "-k",
            "PatientName=",
            "-k",
            "NumberOfPatientRelatedStudies=",
        )
        assert patients.returncode == 0, patients.stderr
        assert sorted(table_rows(patients.stdout)) == [
            ["PID-1", "DOE^JOHN", "2"],
            ["PID-2", "ROE^JANE", "1"],
        ]
        studies = _find(
            qr,
            model,
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "PatientID=PID-1",
            "-k",
            "StudyDate=2021-",
            "-k",
            "StudyInstanceUID=",
        )
        assert studies.returncode == 0, studies.stderr
        assert table_rows(studies.stdout) == [["PID-1", "20210620", _study_uid(qr.corpus["doe2"])]]
    doe1 = qr.corpus["doe1"]
    series = _find(
        qr,
        "-P",
        "-k",
        "QueryRetrieveLevel=IMAGE",
        "-k",
        "PatientID=PID-1",
        "-k",
        f"StudyInstanceUID={_study_uid(doe1)}",
        "-k",
        f"SeriesInstanceUID={_series_uid(doe1)}",
        "-k",
        "SOPInstanceUID=",
    )
    assert series.returncode == 0, series.stderr
    assert sorted(r[3] for r in table_rows(series.stdout)) == sorted(map(instance_uid, doe1))
    # Patient/Study Only has no SERIES level: refused with the table's 0xA900 member.
    refused = _find(qr, "-O", "-k", "QueryRetrieveLevel=SERIES", "-k", "SeriesInstanceUID=")
    assert refused.returncode == 1
    assert_one_liner(refused, "findscu", "0xA900 Failure: Identifier does not match SOP Class")
    assert "[offending: (0008,0052)]" in refused.stderr


def test_find_protocol_approval(qr: SimpleNamespace) -> None:
    ds = dcmread(qr.approval)
    subject = ds.ApprovalSubjectSequence[0].ReferencedSOPInstanceUID
    result = _find(
        qr,
        "-PA",
        "-k",
        "SOPInstanceUID=",
        "-k",
        "InstanceCreationDate=2024",
        "-k",
        f"ApprovalSubjectSequence[0].ReferencedSOPInstanceUID={subject}",
        "-k",
        "ApprovalSequence[0].AsserterIdentificationSequence[0].PersonName=",
    )
    assert result.returncode == 0, result.stderr + qr.server.output
    assert table_rows(result.stdout) == [[ds.SOPInstanceUID, "20240102", subject, "APPROVER^ANNA"]]
    none = _find(qr, "-PA", "-k", "SOPInstanceUID=", "-k", "InstanceCreationDate=2023")
    assert none.returncode == 0 and "0 matches; final status 0x0000" in none.stdout


def test_find_refusals_and_write(qr: SimpleNamespace, tmp_path: Path) -> None:
    # A key below the query level: PS3.4 C.4.1.2.1 baseline, the table's A900.
    below = _find(qr, "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "SOPInstanceUID=")
    assert below.returncode == 1
    assert_one_liner(below, "findscu", "C-FIND failed: 0xA900")
    written = run(
        [
            "findscu",
            "127.0.0.1",
            str(qr.port),
            "-S",
            "-w",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "PatientID=PID-2",
            "-k",
            "StudyInstanceUID=",
        ],
        cwd=tmp_path,
    )
    assert written.returncode == 0, written.stderr
    [path] = sorted(tmp_path.glob("rsp*.dcm"))
    assert path.name == "rsp000001.dcm"
    assert dcmread(path).StudyInstanceUID == _study_uid(qr.corpus["roe"])


def test_relational_queries_and_combined_date_time(qr: SimpleNamespace) -> None:
    args = [
        "-P",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "PatientName=DOE*",
        "-k",
        "StudyInstanceUID=",
    ]
    baseline = _find(qr, *args)  # a non-unique PATIENT key in a STUDY query
    assert baseline.returncode == 1
    assert_one_liner(baseline, "findscu", "[offending: (0010,0010)]")
    relational = _find(qr, *args, "--relational-query")
    assert relational.returncode == 0, relational.stderr
    assert len(table_rows(relational.stdout)) == 2
    combined = _find(
        qr,
        *args,
        "--relational-query",
        "--dt-matching",
        "-k",
        "StudyDate=20200101-20201231",
        "-k",
        "StudyTime=",
    )
    assert combined.returncode == 0, combined.stderr
    assert table_rows(combined.stdout) == [
        ["DOE^JOHN", _study_uid(qr.corpus["doe1"]), "20200115", "101500"]
    ]


# -- C-GET ------------------------------------------------------------------------------------
def test_getscu_writes_what_was_stored_byte_for_byte(qr: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "got"
    result = run(
        [
            "getscu",
            "127.0.0.1",
            str(qr.port),
            "-P",
            "-k",
            "QueryRetrieveLevel=PATIENT",
            "-k",
            "PatientID=PID-1",
            "-od",
            str(out),
            "-v",
        ]
    )
    assert result.returncode == 0, result.stderr + qr.server.output
    sources = qr.corpus["doe1"] + qr.corpus["doe2"]  # Explicit and Implicit VR files
    check_same_datasets(out, sources)
    assert "completed 4, failed 0, warning 0" in result.stdout
    assert "4 instances received into" in result.stdout
    assert "final status 0x0000 Success" in result.stdout
    approval = run(
        [
            "getscu",
            "127.0.0.1",
            str(qr.port),
            "-PA",
            "-od",
            str(tmp_path / "pa"),
            "-k",
            f"SOPInstanceUID={instance_uid(qr.approval)}",
        ]
    )
    assert approval.returncode == 0, approval.stderr + qr.server.output
    check_same_datasets(tmp_path / "pa", [qr.approval])


def test_getscu_pending_every_and_missing_unique_key(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "in")
    args = [
        "--instance-location",
        str(tmp_path / "s"),
        "--database-location",
        str(tmp_path / "i.sqlite"),
        "--pending-every",
        "0",
        "--no-fsync",
    ]
    with dimse_server("qrscp", args, tmp_path) as qrscp:
        assert (
            run(["storescu", "127.0.0.1", str(qrscp.port), str(tmp_path / "in"), "-r"]).returncode
            == 0
        )
        study = _study_uid(corpus["roe"])
        got = run(
            [
                "getscu",
                "127.0.0.1",
                str(qrscp.port),
                "-S",
                "-v",
                "-od",
                str(tmp_path / "o"),
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={study}",
            ]
        )
        assert got.returncode == 0, got.stderr
        assert "C-GET response" not in got.stderr  # no pending responses at all
        check_same_datasets(tmp_path / "o", corpus["roe"])
        bad = run(
            [
                "getscu",
                "127.0.0.1",
                str(qrscp.port),
                "-S",
                "-od",
                str(tmp_path / "o"),
                "-k",
                "QueryRetrieveLevel=SERIES",
            ]
        )
        assert bad.returncode == 1
        assert_one_liner(bad, "getscu", "0xA900 Failure: Identifier does not match SOP Class")


# -- C-MOVE -----------------------------------------------------------------------------------
def test_movescu_to_storescp_and_to_itself(qr: SimpleNamespace, tmp_path: Path) -> None:
    doe2 = qr.corpus["doe2"]
    result = run(
        [
            "movescu",
            "127.0.0.1",
            str(qr.port),
            "-S",
            "-aem",
            "STORESCP",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={_study_uid(doe2)}",
        ]
    )
    assert result.returncode == 0, result.stderr + qr.server.output
    assert "C-MOVE: completed 2, failed 0, warning 0" in result.stdout
    check_same_datasets(qr.moved, doe2)

    roe = qr.corpus["roe"]
    out = tmp_path / "inline"
    inline = run(
        [
            "movescu",
            "127.0.0.1",
            str(qr.port),
            "-S",
            "--store",
            "--store-aet",
            "INLINE",
            "--store-port",
            str(qr.inline_port),
            "-od",
            str(out),
            "-k",
            "QueryRetrieveLevel=SERIES",
            "-k",
            f"SeriesInstanceUID={_series_uid(roe)}",
        ]
    )
    assert inline.returncode == 0, inline.stderr + qr.server.output
    assert "3 instances received by INLINE into" in inline.stdout
    check_same_datasets(out, roe)


def test_movescu_unknown_destination(qr: SimpleNamespace) -> None:
    result = run(
        [
            "movescu",
            "127.0.0.1",
            str(qr.port),
            "-S",
            "-aem",
            "NOWHERE",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={_study_uid(qr.corpus['roe'])}",
        ]
    )
    assert result.returncode == 1
    assert "final status 0xA801 Failure: Move destination unknown" in result.stdout
    assert_one_liner(result, "movescu", "C-MOVE failed: 0xA801")


def test_store_refusal_is_cannot_understand(qr: SimpleNamespace, tmp_path: Path) -> None:
    path = make_file(tmp_path / "bad.dcm")
    ds = dcmread(path)
    del ds.SOPInstanceUID  # the header still names one: nothing to file it under
    ds.save_as(path)
    result = run(["storescu", "127.0.0.1", str(qr.port), str(path)])
    assert result.returncode == 1
    assert "0xC000 Failure: Cannot understand (the dataset has no SOP Instance UID)" in (
        result.stderr
    )
    assert list((qr.tmp / "store" / ".quarantine").iterdir())


# -- restarts, crashes ------------------------------------------------------------------------
def _image_uids(port: int) -> list[str]:
    result = run(
        [
            "findscu",
            "127.0.0.1",
            str(port),
            "-S",
            "-k",
            "QueryRetrieveLevel=IMAGE",
            "-k",
            "SOPInstanceUID=",
            "-k",
            "StudyInstanceUID=",
            "-k",
            "SeriesInstanceUID=",
        ]
    )
    assert result.returncode == 0, result.stderr
    return sorted(row[0] for row in table_rows(result.stdout))


def test_restart_keeps_the_index_and_config_file(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "in")
    config = tmp_path / "conf" / "qrscp.ini"
    config.parent.mkdir()
    config.write_text(
        "# pynetdicom qrscp format\n[DEFAULT]\n    ae_title: CONFQR\n    max_pdu: 16382\n"
        "    instance_location: store\n    database_location: index.sqlite\n"
        "    log_identifier: False\n\n[STORESCP]\n    address: 127.0.0.1\n    port: 11113\n"
    )
    with dimse_server("qrscp", ["-c", str(config), "-v"], tmp_path / "one") as first:
        stored = run(
            ["storescu", "127.0.0.1", str(first.port), str(tmp_path / "in"), "-r", "-aec", "CONFQR"]
        )
        assert stored.returncode == 0, stored.stderr
        before = _image_uids(first.port)
        assert first.stop() == 0
    assert "Move destination STORESCP at 127.0.0.1:11113" in first.output
    assert (tmp_path / "conf" / "index.sqlite").exists()  # relative to the file
    assert len(before) == sum(len(p) for p in corpus.values())
    with dimse_server("qrscp", ["-c", str(config), "-v"], tmp_path / "two") as second:
        assert _image_uids(second.port) == before
    assert "Recovery: store and index consistent" in second.output
    assert "7 instance(s) of 3 stud(ies)" in second.output


def test_kill_9_during_a_store_leaves_no_half_instance(tmp_path: Path) -> None:
    small = make_corpus(tmp_path / "in")["roe"]
    big = make_file(tmp_path / "big" / "mr.dcm", MRImageStorage, pixels=1024)  # 2 MiB
    store, index = tmp_path / "store", tmp_path / "index.sqlite"
    args = ["--instance-location", str(store), "--database-location", str(index), "-v"]
    with dimse_server("qrscp", args, tmp_path / "one") as first:
        assert run(["storescu", "127.0.0.1", str(first.port), *map(str, small)]).returncode == 0
        incoming = store / ".incoming"
        with (
            throttled_proxy(first.port, 512 * 1024) as proxy,
            popen([*DIMSE, "storescu", "127.0.0.1", str(proxy), str(big)]) as sender,
        ):

            def partial() -> bool:
                return any(p.stat().st_size > 256 * 1024 for p in incoming.glob(".*.part"))

            wait_for(partial, 20, "a partial C-STORE file")
            first.proc.kill()  # SIGKILL: no clean-up of any kind
            first.proc.wait(STOP_TIMEOUT)
            sender.wait(30)
        assert sender.returncode != 0
    assert list(incoming.glob(".*.part"))  # the crash left it
    with dimse_server("qrscp", args, tmp_path / "two") as second:
        assert _image_uids(second.port) == sorted(map(instance_uid, small))
    assert "Recovery: 1 partial transfer(s) deleted" in second.output
    assert not list(incoming.glob(".*.part"))
    names = {p.name for p in store.rglob("*") if p.is_file()}
    assert instance_uid(big) not in names
    assert names >= set(map(instance_uid, small))


# -- C-CANCEL ---------------------------------------------------------------------------------
def test_ctrl_c_cancels_a_long_find(tmp_path: Path) -> None:
    port_file = tmp_path / "slow.port"
    with popen([sys.executable, str(HERE / "_slow_find_scp.py"), str(port_file)]) as scp:
        wait_for(port_file.exists, 20, "the slow C-FIND SCP")
        port = port_file.read_text().strip()
        lines: list[str] = []
        with popen(
            [
                *DIMSE,
                "findscu",
                "127.0.0.1",
                port,
                "-S",
                "-v",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                "StudyInstanceUID=",
            ]
        ) as finder:
            assert finder.stderr is not None
            reader = threading.Thread(target=lambda: lines.extend(finder.stderr or []))
            reader.start()
            wait_for(lambda: sum("Find response" in x for x in lines) >= 5, 20, "5 matches")
            finder.send_signal(signal.SIGINT)
            stdout = finder.stdout.read() if finder.stdout else ""
            finder.wait(30)
            reader.join(10)
        scp.send_signal(signal.SIGTERM)
        handler_log = scp.communicate(timeout=STOP_TIMEOUT)[0]
    stderr = "".join(lines)
    assert finder.returncode == 130, stderr
    assert "sending C-CANCEL" in stderr
    assert "final status 0xFE00 Cancel" in stdout, stdout
    assert 5 <= len(table_rows(stdout)) < 5000
    assert "cancelled=True" in handler_log


def test_tls_lenient_and_clean(tmp_path: Path) -> None:
    from _app_procs import make_certificates

    certs = make_certificates(tmp_path / "certs")
    corpus = make_corpus(tmp_path / "in")
    where = [
        "--instance-location",
        str(tmp_path / "s"),
        "--database-location",
        str(tmp_path / "i.sqlite"),
    ]
    tls = ["--tls-cert", str(certs["server.pem"]), "--tls-key", str(certs["server.key"])]
    client = ["--tls", "--tls-ca", str(certs["ca.pem"])]
    with dimse_server("qrscp", [*where, *tls, "--lenient"], tmp_path) as qrscp:
        base = ["127.0.0.1", str(qrscp.port), *client]
        stored = run(["storescu", *base, str(tmp_path / "in"), "-r"])
        stored = run(["storescu", *base, str(tmp_path / "in"), "-r"])  # duplicates replace
        assert stored.returncode == 0, stored.stderr
        found = run(
            [
                "findscu",
                *base,
                "-P",
                "-v",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                "PatientName=DOE*",
                "-k",
                "StudyInstanceUID=",
            ]
        )
        assert found.returncode == 0, found.stderr
        assert "0xFF01 Pending" in found.stderr  # PatientName dropped, not matched
        assert len(table_rows(found.stdout)) == 3
        images = run(
            ["findscu", *base, "-S", "-k", "QueryRetrieveLevel=IMAGE", "-k", "SOPInstanceUID="]
        )
        assert len(table_rows(images.stdout)) == sum(len(p) for p in corpus.values())
    refused = subprocess.run(
        [*DIMSE, "qrscp", *where, "--clean"],
        input="no\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 0 and "Nothing deleted" in refused.stdout
    cleaned = subprocess.run(
        [*DIMSE, "qrscp", *where, "--clean"],
        input="yes\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert "Deleted 7 instance(s)" in cleaned.stdout
    assert not [p for p in (tmp_path / "s").rglob("*") if p.is_file()]
