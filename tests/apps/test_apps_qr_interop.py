"""The Query/Retrieve apps against dcmtk (run with TCP_NODELAY=1) and pynetdicom, both
ways: their SCUs against dimse qrscp, dimse's SCUs against dcmqrscp and pynetdicom's
qrscp. pynetdicom's apps have no Protocol Approval model, so that stays dimse-only."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from _app_procs import (
    dataset_bytes,
    dcmtk,
    dcmtk_env,
    dcmtk_server,
    dimse_server,
    free_port,
    instance_uid,
    run,
    stored_files,
)
from _qr_procs import (
    check_same_datasets,
    dcmqrscp,
    make_corpus,
    pynetdicom_qrscp,
    table_rows,
)
from pydicom import dcmread

PYNETDICOM = [sys.executable, "-m", "pynetdicom"]


def _study(paths: list[Path]) -> str:
    return str(dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID)


def _by_uid(directory: Path) -> dict[str, Path]:
    """dcmtk and pynetdicom name files <modality>.<SOP Instance UID>."""
    return {instance_uid(p): p for p in stored_files(directory)}


@pytest.fixture(scope="module")
def dimse_qrscp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """dimse qrscp holding the corpus, with a dcmtk storescp as move destination DCMSTORE."""
    tmp = tmp_path_factory.mktemp("interop")
    corpus = make_corpus(tmp / "in")
    moved = tmp / "moved"
    moved.mkdir()
    with dcmtk_server("storescp", ["-aet", "DCMSTORE", "-od", str(moved), "+B"], tmp) as store:
        args = [
            "--instance-location",
            str(tmp / "store"),
            "--database-location",
            str(tmp / "i.sqlite"),
            "--move-aet",
            f"DCMSTORE=127.0.0.1:{store.port}",
            "--no-fsync",
            "-v",
        ]
        with dimse_server("qrscp", args, tmp / "qrscp") as qrscp:
            stored = run(["storescu", "127.0.0.1", str(qrscp.port), str(tmp / "in"), "-r"])
            assert stored.returncode == 0, stored.stderr
            yield SimpleNamespace(
                tmp=tmp, port=qrscp.port, corpus=corpus, moved=moved, server=qrscp
            )


# -- their SCUs, our qrscp ---------------------------------------------------------------------
def test_dcmtk_findscu_against_qrscp(dimse_qrscp: SimpleNamespace) -> None:
    result = run(
        [
            dcmtk("findscu"),
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
            "-k",
            "PatientName=DOE*",
            "127.0.0.1",
            str(dimse_qrscp.port),
        ],
        launcher=[],
        env=dcmtk_env(),
    )
    assert result.returncode == 0, result.stderr + dimse_qrscp.server.output
    output = result.stdout + result.stderr
    assert output.count("Find Response:") == 2
    for name in ("doe1", "doe2"):
        assert _study(dimse_qrscp.corpus[name]) in output
    assert _study(dimse_qrscp.corpus["roe"]) not in output


def test_dcmtk_getscu_and_movescu_against_qrscp(dimse_qrscp: SimpleNamespace) -> None:
    out = dimse_qrscp.tmp / "dcmtk-get"
    out.mkdir()
    doe2 = dimse_qrscp.corpus["doe2"]  # Implicit VR: must come back untouched
    got = run(
        [
            dcmtk("getscu"),
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={_study(doe2)}",
            "-od",
            str(out),
            "127.0.0.1",
            str(dimse_qrscp.port),
        ],
        launcher=[],
        env=dcmtk_env(),
    )
    assert got.returncode == 0, got.stderr + dimse_qrscp.server.output
    received = _by_uid(out)
    assert sorted(received) == sorted(map(instance_uid, doe2))
    roe = dimse_qrscp.corpus["roe"]
    moved = run(
        [
            dcmtk("movescu"),
            "-S",
            "-aem",
            "DCMSTORE",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={_study(roe)}",
            "127.0.0.1",
            str(dimse_qrscp.port),
        ],
        launcher=[],
        env=dcmtk_env(),
    )
    assert moved.returncode == 0, moved.stderr + dimse_qrscp.server.output
    received = _by_uid(dimse_qrscp.moved)
    assert sorted(received) == sorted(map(instance_uid, roe))
    for source in roe:  # storescp +B keeps the data set bit for bit
        assert dataset_bytes(received[instance_uid(source)]) == dataset_bytes(source)


def test_pynetdicom_scus_against_qrscp(dimse_qrscp: SimpleNamespace) -> None:
    port = str(dimse_qrscp.port)
    found = run(
        [
            *PYNETDICOM,
            "findscu",
            "127.0.0.1",
            port,
            "-P",
            "-v",
            "-k",
            "QueryRetrieveLevel=PATIENT",
            "-k",
            "PatientID=",
            "-k",
            "PatientName=",
        ],
        launcher=[],
    )
    assert found.returncode == 0, found.stderr
    assert found.stderr.count("0xFF00 (Pending)") == 2
    assert "Find SCP Result: 0x0000 (Success)" in found.stderr
    doe1 = dimse_qrscp.corpus["doe1"]
    out = dimse_qrscp.tmp / "pynetdicom-get"
    got = run(
        [
            *PYNETDICOM,
            "getscu",
            "127.0.0.1",
            port,
            "-S",
            "-k",
            "QueryRetrieveLevel=SERIES",
            "-k",
            f"StudyInstanceUID={_study(doe1)}",
            "-k",
            f"SeriesInstanceUID={dcmread(doe1[0]).SeriesInstanceUID}",
            "-od",
            str(out),
        ],
        launcher=[],
    )
    assert got.returncode == 0, got.stderr + dimse_qrscp.server.output
    assert sorted(_by_uid(out)) == sorted(map(instance_uid, doe1))
    # pynetdicom's movescu with its own Storage SCP as the destination: ours must know
    # it, so only the unknown-destination answer is checked against this qrscp.
    refused = run(
        [
            *PYNETDICOM,
            "movescu",
            "127.0.0.1",
            port,
            "-S",
            "-aem",
            "PYSTORE",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={_study(doe1)}",
            "-v",
        ],
        launcher=[],
    )
    assert "0xA801" in refused.stderr, refused.stderr


def test_pynetdicom_movescu_store_against_qrscp(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "in")
    store_port = free_port()
    args = [
        "--instance-location",
        str(tmp_path / "s"),
        "--database-location",
        str(tmp_path / "i.sqlite"),
        "--move-aet",
        f"PYSTORE=127.0.0.1:{store_port}",
    ]
    out = tmp_path / "moved"
    out.mkdir()
    with dimse_server("qrscp", args, tmp_path) as qrscp:
        assert (
            run(["storescu", "127.0.0.1", str(qrscp.port), str(tmp_path / "in"), "-r"]).returncode
            == 0
        )
        moved = run(
            [
                *PYNETDICOM,
                "movescu",
                "127.0.0.1",
                str(qrscp.port),
                "-S",
                "--store",
                "--store-port",
                str(store_port),
                "--store-aet",
                "PYSTORE",
                "-aem",
                "PYSTORE",
                "-od",
                str(out),
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={_study(corpus['roe'])}",
            ],
            launcher=[],
        )
        assert moved.returncode == 0, moved.stderr + qrscp.output
    assert sorted(_by_uid(out)) == sorted(map(instance_uid, corpus["roe"]))


# -- our SCUs, their Q/R SCPs --------------------------------------------------------------------
@pytest.mark.parametrize("peer", ["dcmqrscp", "pynetdicom"])
def test_dimse_scus_against_other_qrscps(peer: str, tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "in")
    store_port = free_port()
    if peer == "dcmqrscp":
        server = dcmqrscp(tmp_path, {"DSTORE": store_port})
        called = "COMMON"
    else:
        server = pynetdicom_qrscp(tmp_path, {"DSTORE": store_port})
        called = "PYQRSCP"
    with server as scp:
        base = ["127.0.0.1", str(scp.port), "-aec", called]
        stored = run(["storescu", *base, str(tmp_path / "in"), "-r"])
        assert stored.returncode == 0, stored.stdout + stored.stderr + scp.output
        for model, level in (("-S", "STUDY"), ("-P", "STUDY")):
            found = run(
                [
                    "findscu",
                    *base,
                    model,
                    "-k",
                    f"QueryRetrieveLevel={level}",
                    "-k",
                    "PatientID=PID-1",
                    "-k",
                    "StudyInstanceUID=",
                ]
            )
            assert found.returncode == 0, found.stderr + scp.output
            # pynetdicom's qrscp answers once per instance: compare as sets
            uids = {row[-1] for row in table_rows(found.stdout)}
            assert uids == {_study(corpus["doe1"]), _study(corpus["doe2"])}
        patients = run(
            [
                "findscu",
                *base,
                "-P",
                "-k",
                "QueryRetrieveLevel=PATIENT",
                "-k",
                "PatientID=",
                "-k",
                "PatientName=ROE*",
            ]
        )
        assert patients.returncode == 0, patients.stderr
        assert {tuple(r) for r in table_rows(patients.stdout)} == {("PID-2", "ROE^JANE")}

        doe2 = corpus["doe2"]
        got = run(
            [
                "getscu",
                *base,
                "-S",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={_study(doe2)}",
                "-od",
                str(tmp_path / "got"),
            ]
        )
        assert got.returncode == 0, got.stderr + scp.output
        assert "2 instances received" in got.stdout
        assert sorted(_by_uid(tmp_path / "got")) == sorted(map(instance_uid, doe2))

        roe = corpus["roe"]
        moved = run(
            [
                "movescu",
                *base,
                "-S",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={_study(roe)}",
                "--store",
                "--store-aet",
                "DSTORE",
                "--store-port",
                str(store_port),
                "-od",
                str(tmp_path / "mv"),
            ]
        )
        assert moved.returncode == 0, moved.stderr + scp.output
        assert "3 instances received by DSTORE" in moved.stdout
        assert sorted(_by_uid(tmp_path / "mv")) == sorted(map(instance_uid, roe))
        if peer == "pynetdicom":  # it keeps files as received: byte for byte both ways
            check_same_datasets(tmp_path / "mv", roe)

        unknown = run(
            [
                "movescu",
                *base,
                "-S",
                "-aem",
                "NOWHERE",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"StudyInstanceUID={_study(roe)}",
            ]
        )
        assert unknown.returncode == 1
        assert "0xA801" in unknown.stdout + unknown.stderr
