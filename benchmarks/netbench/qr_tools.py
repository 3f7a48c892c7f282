"""The Query/Retrieve programs under test: each tool's Q/R SCP, loader and SCUs.

``QrTool`` holds, per tool, how to start its Q/R SCP on a store directory (writing the
configuration file the SCP needs), how to load the study into it with the tool's own
storescu, and how its own C-FIND/C-GET/C-MOVE SCU is called. ``API_CLIENT`` is the
common client (dimse's asyncio API in-process) that every SCP is also measured with,
and the dimse SCU rows' stand-in while dimse's findscu/getscu/movescu do not exist.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .settings import CT_IMAGE_STORAGE, HOST
from .tools import probe_apps

QR_AET = "QRSCP"  # the Q/R SCPs' AE title
MOVE_AET = "STORESCP"  # the C-MOVE destination (a dcmtk storescp), known to every SCP
SCU_APPS = {"find": "findscu", "get": "getscu", "move": "movescu"}


@dataclass(frozen=True)
class Query:
    """One client run: the operation and its Study Root identifier."""

    op: str  # "find" | "get" | "move"
    keys: dict[str, str]

    def dcmtk_keys(self) -> list[str]:
        return [arg for k, v in self.keys.items() for arg in ("-k", f"{k}={v}")]


@dataclass(frozen=True)
class QrTool:
    key: str
    label: str  # the SCP's name in the tables
    env: dict[str, str]
    note: str
    # (store dir, port, move destination port) -> SCP argv; writes its config if any
    scp: Callable[[Path, int, int], list[str]]
    load: Callable[[int, Path], list[str]]  # (port, study dir) -> storescu argv
    # (query, port, output dir) -> SCU argv, run with the output dir as cwd; None: the
    # tool has no such SCU (yet) and its SCU row uses API_CLIENT, labelled so
    scu: Callable[[Query, int, Path], list[str]] | None
    scu_label: str
    # a variant of another tool's SCP on that tool's store (not loaded again), measured
    # with the common client only
    variant_of: str | None = None
    skip: frozenset[str] = frozenset()  # workloads this tool is not run for (see notes)


def _dcmqrscp(bin_: str) -> Callable[[Path, int, int], list[str]]:
    def argv(store: Path, port: int, dest_port: int) -> list[str]:
        area = store / QR_AET
        area.mkdir(parents=True, exist_ok=True)
        cfg = store / "dcmqrscp.cfg"
        # (studies, bytes per study): room for the whole set, so no quota deletes it;
        # ANY: every calling AE may query and retrieve.
        cfg.write_text(
            f"NetworkTCPPort  = {port}\n"
            "MaxPDUSize      = 16384\n"
            "MaxAssociations = 16\n"
            "HostTable BEGIN\n"
            f"dest = ({MOVE_AET}, {HOST}, {dest_port})\n"
            "HostTable END\n"
            "VendorTable BEGIN\nVendorTable END\n"
            "AETable BEGIN\n"
            f"{QR_AET} {area} RW (10, 1024mb) ANY\n"
            "AETable END\n"
        )
        # fork mode (the default): --single-process exits after one association in 3.6.7;
        # -dhl: no reverse DNS lookup per association.
        return [f"{bin_}/dcmqrscp", "-c", str(cfg), "-dhl", str(port)]

    return argv


def _dcmtk_scu(bin_: str) -> Callable[[Query, int, Path], list[str]]:
    def argv(query: Query, port: int, out: Path) -> list[str]:
        head = [f"{bin_}/{SCU_APPS[query.op]}", "-aec", QR_AET, "-S", *query.dcmtk_keys()]
        if query.op == "find":  # -X: each match to rsp0001.dcm... (and nothing printed)
            head += ["-X", "-od", str(out)]
        elif query.op == "get":  # +B: received data set streamed to the file as is
            head += ["+B", "-od", str(out)]
        else:
            head += ["-aem", MOVE_AET]
        return [*head, HOST, str(port)]

    return argv


# pynetdicom leaves Nagle on (no TCP_NODELAY, and no switch for it), which stalls each
# C-GET/C-MOVE sub-operation ~40 ms on the delayed ACK. The "(TCP_NODELAY)" variant runs
# the same qrscp in the same process with TCP_NODELAY set on every socket it opens.
PYNETDICOM_NODELAY = """
import runpy, socket, sys
def nodelay(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
_connect, _accept = socket.socket.connect, socket.socket.accept
def connect(self, address):
    _connect(self, address)
    nodelay(self)
def accept(self):
    conn, address = _accept(self)
    nodelay(conn)
    return conn, address
socket.socket.connect, socket.socket.accept = connect, accept
sys.argv = ["pynetdicom", *sys.argv[1:]]
runpy.run_module("pynetdicom", run_name="__main__", alter_sys=True)
"""


def _pynetdicom_qrscp(python: str, nodelay: bool) -> Callable[[Path, int, int], list[str]]:
    head = [python, "-c", PYNETDICOM_NODELAY] if nodelay else [python, "-m", "pynetdicom"]

    def argv(store: Path, port: int, dest_port: int) -> list[str]:
        ini = store / "qrscp.ini"
        # its --port override breaks (an int into ConfigParser), so all in the file
        ini.write_text(
            "[DEFAULT]\n"
            f"ae_title: {QR_AET}\n"
            f"port: {port}\n"
            "max_pdu: 16382\n"
            "acse_timeout: 30\ndimse_timeout: 30\nnetwork_timeout: 30\n"
            f"bind_address: {HOST}\n"
            f"instance_location: {store / 'instances'}\n"
            f"database_location: {store / 'instances.sqlite'}\n"
            "log_identifier: False\n"
            f"\n[{MOVE_AET}]\naddress: {HOST}\nport: {dest_port}\n"
        )
        return [*head, "qrscp", "-c", str(ini)]

    return argv


def _pynetdicom_scu(python: str) -> Callable[[Query, int, Path], list[str]]:
    def argv(query: Query, port: int, out: Path) -> list[str]:
        head = [python, "-m", "pynetdicom", SCU_APPS[query.op], HOST, str(port)]
        head += ["-aec", QR_AET, "-S", *query.dcmtk_keys()]
        if query.op == "find":  # -w: rsp000001.dcm... into the cwd (the output dir)
            return [*head, "-w"]
        if query.op == "get":
            return [*head, "-od", str(out)]
        return [*head, "-aem", MOVE_AET]

    return argv


def _dimse_qrscp(dimse: list[str]) -> Callable[[Path, int, int], list[str]]:
    def argv(store: Path, port: int, dest_port: int) -> list[str]:
        return [
            *dimse,
            "qrscp",
            str(port),
            "-aet",
            QR_AET,
            "--database-location",
            str(store / "index.sqlite"),
            "--instance-location",
            str(store / "instances"),
            "--move-aet",
            f"{MOVE_AET}={HOST}:{dest_port}",
            "--no-fsync",
        ]

    return argv


def _dimse_scu(dimse: list[str]) -> Callable[[Query, int, Path], list[str]]:
    def argv(query: Query, port: int, out: Path) -> list[str]:
        head = [*dimse, SCU_APPS[query.op], HOST, str(port), "-aec", QR_AET, "-S"]
        head += query.dcmtk_keys()
        if query.op == "find":  # -w: rsp000001.dcm... into the cwd (it also prints a table)
            return [*head, "-w"]
        if query.op == "get":  # --no-fsync, like --no-fsync of the SCPs
            return [*head, "-od", str(out), "--no-fsync"]
        return [*head, "-aem", MOVE_AET]

    return argv


def make_qr_tools(
    dcmtk_bin: Path, dimse_cmd: list[str] | None, wanted: list[str]
) -> tuple[dict[str, QrTool], list[str]]:
    """The Q/R tools that can run here, and notes on those that cannot."""
    python = sys.executable
    base_env = dict(os.environ)
    base_env.pop("TCP_NODELAY", None)
    bin_ = str(dcmtk_bin)
    notes: list[str] = []
    tools: dict[str, QrTool] = {}
    if "dcmtk" in wanted:
        tools["dcmtk"] = QrTool(
            "dcmtk",
            "dcmtk dcmqrscp",
            {**base_env, "TCP_NODELAY": "1"},
            "dcmqrscp (fork mode, index.dat, max PDU 16384); findscu -X, getscu +B, movescu;"
            " loaded with storescu",
            _dcmqrscp(bin_),
            lambda port, d: [
                f"{bin_}/storescu",
                "-aec",
                QR_AET,
                "+sd",
                "+r",
                HOST,
                str(port),
                str(d),
            ],
            _dcmtk_scu(bin_),
            "findscu/getscu/movescu",
        )
    if "pynetdicom" in wanted:
        try:
            import sqlalchemy  # noqa: F401  (pynetdicom's qrscp needs it)
        except ImportError:
            notes.append("pynetdicom qrscp skipped: it needs sqlalchemy (pip install sqlalchemy)")
        else:
            tools["pynetdicom"] = QrTool(
                "pynetdicom",
                "pynetdicom qrscp",
                base_env,
                "python -m pynetdicom qrscp (sqlite via sqlalchemy, max PDU 16382) and its"
                " findscu -w / getscu -od / movescu as shipped (INFO logging, to a file);"
                " loaded with its storescu -xe",
                _pynetdicom_qrscp(python, False),
                lambda port, d: [
                    *(python, "-m", "pynetdicom", "storescu", HOST, str(port), str(d)),
                    *("-r", "-aec", QR_AET, "-xe"),
                ],
                _pynetdicom_scu(python),
                "findscu/getscu/movescu",
            )
            tools["pynetdicom-nodelay"] = QrTool(
                "pynetdicom-nodelay",
                "pynetdicom +TCP_NODELAY",
                base_env,
                "the same qrscp with TCP_NODELAY set on its sockets (monkeypatched socket"
                " connect/accept): pynetdicom without the Nagle stall; common client only",
                _pynetdicom_qrscp(python, True),
                tools["pynetdicom"].load,
                None,
                "-",
                variant_of="pynetdicom",
                # its C-MOVE to storescp stalls at N = 2000 ("DIMSE timeout reached while
                # waiting for message response" in the SCP: a race the Nagle delay hides)
                skip=frozenset({"Q3"}),
            )
            notes.append(
                "pynetdicom +TCP_NODELAY has no Q3 row: with Nagle off its C-MOVE of 2000"
                " instances hung in every run (the qrscp logs 'DIMSE timeout reached while"
                " waiting for message response' for a sub-operation; 200 pass)"
            )
    if "dimse" in wanted and dimse_cmd is not None:
        dimse = list(dimse_cmd)
        found, missing = probe_apps(dimse, ("qrscp", "findscu", "getscu", "movescu"))
        if "qrscp" not in found:
            why = next((m for m in missing if m.startswith("qrscp")), "?")
            notes.append(f"dimse qrscp missing, its rows are skipped ({why})")
        else:
            have_scus = {"findscu", "getscu", "movescu"} <= found
            if not have_scus:
                notes.append(
                    "dimse findscu/getscu/movescu missing: the dimse SCU rows run the API"
                    " client script instead (wall time incl. interpreter start, like an app)"
                )
            tools["dimse"] = QrTool(
                "dimse",
                "dimse qrscp",
                base_env,
                "dimse qrscp --no-fsync (max PDU 1 MiB); loaded with dimse storescu",
                _dimse_qrscp(dimse),
                lambda port, d: [*dimse, "storescu", HOST, str(port), str(d), "-r", "-aec", QR_AET],
                _dimse_scu(dimse) if have_scus else None,
                "findscu/getscu/movescu" if have_scus else "API client script",
            )
    elif "dimse" in wanted:
        notes.append("dimse apps missing: no dimse Q/R rows")
    return tools, notes


# The common client: dimse's asyncio API in one process. Times associate -> request ->
# final response -> release (imports and AE set-up excluded). For C-GET it proposes only
# Explicit VR LE (the stored syntax) for the storage context, so that every SCP sends
# the same bytes (pynetdicom's qrscp picks Implicit VR LE when offered both, whatever
# the order, and re-encodes every instance). C-FIND matches are counted
# in memory and their SOP Instance UIDs written to <od>/uids.json after the clock
# stops; C-GET instances stream to <od>/<uid> (no fsync). argv: one JSON spec; prints
# one JSON line; exit status 0 only for a final status of Success.
API_CLIENT = """
import asyncio, json, sys, time
spec = json.loads(sys.argv[1])
from pydicom.dataset import Dataset
from dimse.ae import AE, StoreToDirectory
MODELS = {"find": "1.2.840.10008.5.1.4.1.2.2.1", "move": "1.2.840.10008.5.1.4.1.2.2.2",
          "get": "1.2.840.10008.5.1.4.1.2.2.3"}
async def main():
    op = spec["op"]
    ae = AE("NETBENCH")
    ae.add_requested_context(MODELS[op])
    if op == "get":
        ae.add_requested_storage([spec["sop_class"]], "1.2.840.10008.1.2.1")
        ae.store_sink = StoreToDirectory(spec["od"], fsync=False)
    ident = Dataset()
    for keyword, value in spec["keys"].items():
        setattr(ident, keyword, value)
    uids, final = [], None
    start = time.perf_counter()
    assoc = await ae.associate_async(spec["host"], spec["port"], spec["aec"])
    if op == "find":
        stream = assoc.send_c_find(ident, "S")
    elif op == "get":
        stream = assoc.send_c_get(ident, "S")
    else:
        stream = assoc.send_c_move(ident, spec["move_aet"], "S")
    async for rsp, ds in stream:
        if not rsp.is_pending:
            final = rsp
        elif op == "find" and ds is not None:
            uids.append(str(ds.SOPInstanceUID))
    await assoc.release()
    seconds = time.perf_counter() - start
    if op == "find":
        with open(spec["od"] + "/uids.json", "w") as f:
            json.dump(uids, f)
    status = None if final is None else final.status
    done = getattr(final, "number_of_completed_suboperations", None)
    failed = getattr(final, "number_of_failed_suboperations", None)
    print(json.dumps({"seconds": seconds, "status": status, "matches": len(uids),
                      "completed": done, "failed": failed}))
    return 0 if status == 0 else 1
sys.exit(asyncio.run(main()))
"""


def api_client(query: Query, port: int, out: Path) -> list[str]:
    spec = {
        "op": query.op,
        "keys": query.keys,
        "host": HOST,
        "port": port,
        "aec": QR_AET,
        "od": str(out),
        "move_aet": MOVE_AET,
        "sop_class": CT_IMAGE_STORAGE,
    }
    return [sys.executable, "-c", API_CLIENT, json.dumps(spec)]
