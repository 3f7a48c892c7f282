"""dimse.log: debug_logger and the PDU/DIMSE dumps, in process (no subprocess needed)."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from dimse import log
from dimse.ae import AE
from dimse.apps.storescp import DiscardSink, discard_sink
from dimse.messages import CStoreRQ, CStoreRSP
from dimse.pdu import PDV, AReleaseRQ, PDataTF

CT = "1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = "1.2.840.10008.1.1"


@pytest.fixture
def restore_dimse_logger() -> object:
    logger = logging.getLogger("dimse")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def test_debug_logger_is_idempotent(restore_dimse_logger: logging.Logger) -> None:
    stream = io.StringIO()
    log.debug_logger(stream)
    log.debug_logger(stream)
    ours = [h for h in restore_dimse_logger.handlers if isinstance(h, logging.StreamHandler)]
    assert len(ours) == 1
    assert restore_dimse_logger.level == logging.DEBUG
    logging.getLogger("dimse.test").debug("hello")
    assert stream.getvalue() == "D: hello\n"


def test_describe_message_names_elements_and_status() -> None:
    rq = CStoreRQ(
        message_id=7,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.3",
        has_dataset=True,
    )
    text = "\n".join(log.describe_message(rq, "outgoing"))
    assert "OUTGOING DIMSE MESSAGE" in text
    assert "Message type: C-STORE-RQ" in text
    assert f"AffectedSOPClassUID         : {CT} (CT Image Storage)" in text
    assert "MessageID                   : 7" in text
    assert "Data set                    : present" in text
    rsp = CStoreRSP(
        message_id_being_responded_to=7,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.3",
        status=0xA700,
    )
    text = "\n".join(log.describe_message(rsp, "incoming"))
    assert "Status                      : 0xA700" in text
    assert "Status meaning              : Failure: " in text


def test_describe_pdu_summarises_data_and_dumps_the_rest() -> None:
    pdata = PDataTF(pdvs=(PDV(context_id=1, control=0x02, data=b"x" * 100),))
    assert log.describe_pdu(pdata, "incoming") == [
        "incoming P-DATA-TF: context 1 data, last 100 bytes"
    ]
    lines = log.describe_pdu(AReleaseRQ(), "outgoing")
    assert "OUTGOING A-RELEASE-RQ PDU" in lines[0]
    assert "END A-RELEASE-RQ PDU" in lines[-1]


def test_dump_handlers_log_a_whole_exchange(caplog: pytest.LogCaptureFixture) -> None:
    async def exchange() -> None:
        scp = AE("SCP")
        scp.add_supported_context(VERIFICATION)
        server = await scp.serve(("127.0.0.1", 0))
        try:
            scu = AE("SCU")
            scu.add_requested_context(VERIFICATION)
            assoc = await scu.associate_async(
                "127.0.0.1", server.port, "SCP", evt_handlers=log.dump_handlers()
            )
            await assoc.send_c_echo()
            await assoc.release()
        finally:
            await server.close()

    with caplog.at_level(logging.DEBUG, logger="dimse.dump"):
        asyncio.run(asyncio.wait_for(exchange(), 30))
    text = caplog.text
    for expected in (
        "OUTGOING A-ASSOCIATE-RQ PDU",
        "Calling AE title: 'SCU'",
        "INCOMING A-ASSOCIATE-AC PDU",
        "Message type: C-ECHO-RQ",
        "Message type: C-ECHO-RSP",
        "incoming P-DATA-TF: context 1 command, last",
        "INCOMING A-RELEASE-RP PDU",
    ):
        assert expected in text, expected


def test_discard_sink_keeps_nothing() -> None:
    sink = discard_sink(None, None, 1)  # type: ignore[arg-type]
    assert isinstance(sink, DiscardSink)
    sink.write(b"abc")
    sink.write(memoryview(b"de"))
    assert sink.size == 5
    assert sink.close() is None
    sink.discard()
