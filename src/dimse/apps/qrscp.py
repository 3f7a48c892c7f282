"""``dimse qrscp``: a Query/Retrieve SCP over an instance store and its SQLite index.

It answers C-ECHO; stores every storage SOP class of the spec with C-STORE (streamed to
disk, then filed and indexed: an instance is stored and indexed, or absent; a
duplicate replaces the older copy); answers C-FIND with PS3.4 matching and C-GET and
C-MOVE with sub-operations, for the Patient Root, Study Root, Patient/Study Only and
Protocol Approval models. C-MOVE sends only to the destinations configured
(``--move-aet`` or the file of ``-c``). At start it runs the store's recovery, which
finishes or undoes whatever a crash interrupted, and says what it fixed.

``dimse qrscp`` alone listens on 11112 as QRSCP with ``qrscp.sqlite`` and
``qrscp-store/`` in the current directory. Handlers live
in :mod:`dimse.apps._qr_handlers`, settings in :mod:`dimse.apps._qr_config`.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import time

from dimse.ae import AE
from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.apps import _qr_config as config
from dimse.apps._common import AppError
from dimse.apps._qr_handlers import QRHandlers, with_extended_negotiation
from dimse.negotiation import AcceptorConfig
from dimse.qr import MODELS, IndexSchemaError, InstanceStore, Level, RecoveryReport, SQLiteIndex

__all__ = ["QRAE", "main"]

APP = "qrscp"
LOGGER = logging.getLogger("dimse.apps.qrscp")
EXIT_CODES = (0, 1, 2, 3)


class QRAE(AE):
    """An AE that also answers the Q/R SOP Class Extended Negotiation."""

    def acceptor_config(self) -> AcceptorConfig:
        return with_extended_negotiation(super().acceptor_config())


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = options.make_parser(
        prog,
        "The qrscp application implements a Service Class Provider (SCP) for the "
        "Verification, Storage and Query/Retrieve (QR) Service Classes. Instances "
        "received with C-STORE are kept in an instance directory and indexed in an "
        "SQLite database; C-FIND, C-GET and C-MOVE are answered from them (Patient Root, "
        "Study Root, Patient/Study Only and Protocol Approval models). C-MOVE sends only "
        "to configured destinations. Settings come from the options, then a "
        "configuration file (-c, pynetdicom qrscp format), then the defaults. It runs "
        "until interrupted (SIGINT or SIGTERM ends it with status 0).",
        options.exit_codes_epilog(EXIT_CODES, "--clean failed"),
    )
    params = parser.add_argument_group("Parameters")
    params.add_argument(
        "port",
        nargs="?",
        type=options.port_number,
        help="TCP/IP port number to listen on (default: the configured port, else 11112; "
        "0: any free)",
    )
    general = options.add_general_options(parser, APP)
    general.add_argument(
        "-c",
        "--config",
        metavar="[f]ilename",
        help="use configuration file f (pynetdicom qrscp format: [DEFAULT] settings, "
        "one [AE title] section with address and port per move destination)",
    )
    network = options.add_network_options(parser, server=True, default_aet="QRSCP")
    network.add_argument(
        "--port",
        dest="port_option",
        metavar="[p]ort",
        type=options.port_number,
        help="override the configured TCP/IP listen port number (as the port parameter)",
    )
    options.add_server_options(network)
    options.add_accept_syntax_options(parser)
    database = parser.add_argument_group("Database Options")
    database.add_argument(
        "--database-location",
        metavar="[f]ile",
        help=f"override the location of the database using file f "
        f"(default: ./{config.DEFAULT_DATABASE})",
    )
    database.add_argument(
        "--instance-location",
        metavar="[d]irectory",
        help=f"override the configured instance storage location to directory d "
        f"(default: ./{config.DEFAULT_INSTANCES}/)",
    )
    database.add_argument(
        "--clean",
        action="store_true",
        help="remove all entries from the database and delete the corresponding stored "
        "instances (asks for confirmation), then exit",
    )
    qr = parser.add_argument_group("Query/Retrieve Options (dimse)")
    qr.add_argument(
        "--move-aet",
        metavar="AET=host:port",
        type=config.move_destination,
        action="append",
        default=[],
        help="a C-MOVE destination (repeat for more; adds to and overrides the "
        "configuration file's); C-MOVE to any other AE title fails with 0xA801",
    )
    qr.add_argument(
        "--pending-every",
        metavar="[n]umber",
        type=int,
        help="C-GET/C-MOVE: a pending response after every n sub-operations "
        "(default: 1, after each; 0: none)",
    )
    qr.add_argument(
        "--lenient",
        action="store_true",
        help="C-FIND: drop keys PS3.4 does not allow at the query level (answering "
        "0xFF01) instead of refusing the query with 0xA900",
    )
    qr.add_argument(
        "--no-fsync",
        action="store_true",
        help="don't fsync each stored instance before acknowledging it: faster, but a "
        "power loss can lose instances the peer was told were stored",
    )
    options.add_tls_options(parser, server=True)
    # Unset means "as configured": the file's value, else the default in the help.
    parser.set_defaults(
        ae_title=None,
        acse_timeout=None,
        dimse_timeout=None,
        network_timeout=None,
        max_pdu=None,
        bind_address=None,
        max_associations=None,
    )
    return parser


def open_index(settings: config.Settings) -> SQLiteIndex:
    path = settings.database_location
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteIndex(path)
    except IndexSchemaError as exc:
        raise AppError(f"database {path}: {exc}", common.EXIT_USAGE) from None
    except (sqlite3.Error, OSError) as exc:
        raise AppError(f"cannot open database {path}: {exc}", common.EXIT_USAGE) from None


def open_store(settings: config.Settings, index: SQLiteIndex, fsync: bool) -> InstanceStore:
    try:
        return InstanceStore(settings.instance_location, index, fsync=fsync)
    except OSError as exc:
        raise AppError(
            f"cannot use instance location {settings.instance_location}: {exc.strerror or exc}",
            common.EXIT_USAGE,
        ) from None


def log_recovery(report: RecoveryReport, seconds: float) -> None:
    """What recovery fixed: a warning with the counts, each file at INFO (-v)."""
    words = {
        "temp_deleted": "partial transfer(s) deleted",
        "adopted": "complete transfer(s) filed",
        "rows_removed": "index row(s) of missing files removed",
        "reindexed": "changed file(s) re-indexed",
        "indexed": "unindexed file(s) indexed",
        "stale_deleted": "older duplicate(s) deleted",
        "quarantined": "unreadable file(s) moved to .quarantine",
        "foreign": "foreign file(s) left alone",
    }
    done = [(key, getattr(report, key)) for key in words if getattr(report, key)]
    if not done:
        LOGGER.info("Recovery: store and index consistent (%.2f s)", seconds)
        return
    summary = "; ".join(f"{len(files)} {words[key]}" for key, files in done)
    log = LOGGER.warning if report.changed else LOGGER.info
    log("Recovery: %s (%.2f s)", summary, seconds)
    for key, files in done:
        for name in files:
            LOGGER.info("  %s: %s", words[key], name)


def clean(store: InstanceStore) -> int:
    """--clean: after a "yes", delete every indexed instance (file, then row)."""
    count = store.index.count()
    answer = ""
    try:
        print(
            f"This will delete all {count} instance(s) from both the storage directory "
            "and the database. Are you sure you wish to continue? [yes/no]: ",
            end="",
            flush=True,
        )
        answer = sys.stdin.readline().strip().lower()
    except (OSError, ValueError):
        pass
    if answer != "yes":
        print("Nothing deleted.")
        return common.EXIT_OK
    failed = 0
    for uid, _path, _size, _mtime in list(store.index.files()):
        try:
            store.remove(uid)
        except OSError as exc:
            failed += 1
            LOGGER.error("cannot delete %s: %s", uid, exc.strerror or exc)
    print(f"Deleted {count - failed} instance(s)" + (f", {failed} failed" if failed else ""))
    return common.EXIT_FAILED if failed else common.EXIT_OK


def make_ae(args: argparse.Namespace, settings: config.Settings) -> QRAE:
    ae = QRAE(settings.ae_title)
    ae.acse_timeout = settings.acse_timeout or None
    ae.dimse_timeout = settings.dimse_timeout or None
    ae.network_timeout = settings.network_timeout or None
    ae.maximum_pdu_size = settings.max_pdu
    ae.maximum_associations = settings.max_associations
    ae.require_called_aet = args.require_called_aet
    ae.require_calling_aet = list(args.require_calling_aet)
    ae.pending_every = settings.pending_every
    syntaxes = options.accepted_syntaxes(args.prefer)
    ae.add_supported_context(common.VERIFICATION, syntaxes)
    # SCP of storage, and SCU of it for the C-GET sub-operations the peer takes as SCP.
    ae.add_supported_storage(syntaxes, scu_role=True, scp_role=True)
    for model in MODELS:
        for uid in model.sop_classes:
            ae.add_supported_context(uid, syntaxes)
    return ae


async def serve(args: argparse.Namespace, level: int) -> int:
    settings = config.load(args)
    for title in args.require_calling_aet:
        common.check_ae_title(title, "--require-calling-aet")
    for line in settings.describe():
        LOGGER.debug("%s", line)
    tls = common.tls_context(args, server=True)
    index = open_index(settings)
    handlers: QRHandlers | None = None
    try:
        store = open_store(settings, index, fsync=not args.no_fsync)
        if args.clean:
            return clean(store)
        started = time.monotonic()
        report = store.recover()
        log_recovery(report, time.monotonic() - started)
        LOGGER.info(
            "%d instance(s) of %d stud(ies) in %s, indexed in %s",
            index.count(Level.IMAGE),
            index.count(Level.STUDY),
            store.root,
            settings.database_location,
        )
        if settings.destinations:
            for title, where in settings.destinations.items():
                LOGGER.info("Move destination %s at %s", title, where)
        else:
            LOGGER.info("No move destinations configured: C-MOVE will answer 0xA801")
        ae = make_ae(args, settings)
        handlers = QRHandlers(
            store,
            settings.destinations,
            strict=not args.lenient,
            log_identifier=settings.log_identifier,
        )
        ae.store_sink = handlers.store_sink
        args.port, args.bind_address = settings.port, settings.bind_address
        bindings = [*common.association_handlers(LOGGER, level), *handlers.bindings()]
        return await common.serve_until_signalled(ae, args, bindings, tls, LOGGER)
    finally:
        if handlers is not None:
            handlers.shutdown()
        index.close()


def main(argv: list[str] | None = None, prog: str = "dimse qrscp") -> int:
    args = build_parser(prog).parse_args(argv)
    level = common.setup_logging(args)
    common.keep_freed_memory()
    return common.run_async(APP, args, lambda: serve(args, level))
