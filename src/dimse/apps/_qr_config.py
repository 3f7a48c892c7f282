"""qrscp settings: built-in defaults, then a configuration file (``-c``), then options.

The file has the format of pynetdicom's qrscp configuration (its ``default.ini``), so
one file serves both: application settings in ``[DEFAULT]``, and every other section a
move destination named by its AE title::

    [DEFAULT]
        ae_title: QRSCP
        port: 11112
        max_pdu: 16382
        acse_timeout: 30
        dimse_timeout: 30
        network_timeout: 30
        bind_address:
        instance_location: instances
        database_location: instances.sqlite
        log_identifier: True

    [STORESCP]
        address: 127.0.0.1
        port: 11113

dimse reads two more ``[DEFAULT]`` keys, ``max_associations`` and ``pending_every``.
Relative locations are taken from the configuration file's directory (pynetdicom takes
them from its own package directory), those given as options from the current one.
Unlike Python's configparser defaults, ``[DEFAULT]`` values are not inherited by the
destination sections: a destination without a port is an error, not port 11112.
"""

from __future__ import annotations

import argparse
import configparser
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from dimse.apps import _common as common
from dimse.apps import _options as options
from dimse.apps._common import AppError

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_INSTANCES",
    "Destination",
    "Settings",
    "load",
    "move_destination",
]

LOGGER = logging.getLogger("dimse.apps.qrscp")
# In the current directory, named after the app (pynetdicom's default.ini names
# "instances.sqlite" and "instances" beside its own package).
DEFAULT_DATABASE = "qrscp.sqlite"
DEFAULT_INSTANCES = "qrscp-store"


@attrs.frozen
class Destination:
    """Where a move destination AE listens."""

    address: str
    port: int

    def __str__(self) -> str:
        return common.format_address(self.address, self.port)


@attrs.define
class Settings:
    """Everything qrscp runs with, whichever source each value came from."""

    ae_title: str = "QRSCP"
    port: int = 11112
    max_pdu: int = 1 << 20
    acse_timeout: float = 30.0
    dimse_timeout: float = 30.0
    network_timeout: float = 60.0
    bind_address: str = ""
    instance_location: Path = Path(DEFAULT_INSTANCES)
    database_location: Path = Path(DEFAULT_DATABASE)
    log_identifier: bool = True
    max_associations: int = 10
    pending_every: int = 1
    destinations: dict[str, Destination] = attrs.Factory(dict)
    config_file: Path | None = None

    def describe(self) -> list[str]:
        """The settings in words, for the log at start-up."""
        dests = ", ".join(f"{t}={d}" for t, d in self.destinations.items()) or "none"
        return [
            f"Configuration: {self.config_file or 'built-in defaults and options'}",
            f"  AE title {self.ae_title}, port {self.port}, max PDU {self.max_pdu}",
            f"  timeouts: ACSE {self.acse_timeout:g} s, DIMSE {self.dimse_timeout:g} s, "
            f"network {self.network_timeout:g} s",
            f"  instances: {self.instance_location}, database: {self.database_location}",
            f"  move destinations: {dests}",
        ]


# -- values --------------------------------------------------------------------------------
def _port(text: str) -> int:
    return options.port_number(text)


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("a timeout cannot be negative")
    return value


def _max_pdu(text: str) -> int:
    value = int(text)
    if value != 0 and not 4096 <= value <= 0xFFFFFFFF:
        raise ValueError("use 0 (unlimited) or 4096 to 4294967295 bytes")
    return value


def _boolean(text: str) -> bool:
    states = configparser.ConfigParser.BOOLEAN_STATES
    if text.lower() not in states:
        raise ValueError("use true or false")
    return states[text.lower()]


def _title(text: str) -> str:
    return common.check_ae_title(text, "AE title")


_KEYS: Mapping[str, Callable[[str], Any]] = {
    "ae_title": _title,
    "port": _port,
    "max_pdu": _max_pdu,
    "acse_timeout": _seconds,
    "dimse_timeout": _seconds,
    "network_timeout": _seconds,
    "bind_address": str.strip,
    "instance_location": Path,
    "database_location": Path,
    "log_identifier": _boolean,
    "max_associations": options.positive_int,
    "pending_every": int,
}


def _convert(where: str, key: str, text: str, convert: Callable[[str], Any]) -> Any:
    try:
        return convert(text.strip())
    except AppError as exc:
        raise AppError(f"{where} {key}: {exc.message}", common.EXIT_USAGE) from None
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise AppError(f"{where} {key}: {text.strip()!r}: {exc}", common.EXIT_USAGE) from None


# -- the file ------------------------------------------------------------------------------
def read_config(path: Path, settings: Settings) -> None:
    """Apply a configuration file to ``settings`` (AppError names the file and key)."""
    parser = configparser.ConfigParser(default_section="\x00none", interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise AppError(f"cannot read -c {path}: {exc.strerror or exc}", common.EXIT_USAGE) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        text = " ".join(str(exc).split())
        raise AppError(f"-c {path}: {text}", common.EXIT_USAGE) from None
    settings.config_file = path
    base = path.parent
    for section in parser.sections():
        where = f"{path} [{section}]"
        values = dict(parser[section])
        if section == "DEFAULT":
            for key, text in values.items():
                convert = _KEYS.get(key)
                if convert is None:
                    LOGGER.warning("%s: unknown key %r ignored", where, key)
                    continue
                value = _convert(where, key, text, convert)
                if isinstance(value, Path) and not value.is_absolute():
                    value = base / value
                setattr(settings, key, value)
            continue
        title = _convert(str(path), "section", section, _title).strip()
        unknown = set(values) - {"address", "port"}
        if unknown:
            LOGGER.warning("%s: unknown key(s) %s ignored", where, ", ".join(sorted(unknown)))
        for key in ("address", "port"):
            if not values.get(key, "").strip():
                raise AppError(f"{where}: a move destination needs {key}", common.EXIT_USAGE)
        port = _convert(where, "port", values["port"], _port)
        settings.destinations[title] = Destination(values["address"].strip(), port)


def move_destination(text: str) -> tuple[str, Destination]:
    """``AET=host:port`` (``AET=[::1]:11113`` for IPv6): an argparse type."""
    title, sep, where = text.partition("=")
    host, colon, port_text = where.rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not colon or not host or not title.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not AET=host:port")
    try:
        common.check_ae_title(title, "--move-aet")
    except AppError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    port = options.port_number(port_text)
    if port == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: port 0 is not a destination")
    return title.strip(), Destination(host, port)


def load(args: argparse.Namespace) -> Settings:
    """Defaults < ``-c`` file < command line."""
    settings = Settings()
    if args.config:
        read_config(Path(args.config), settings)
    if args.port is not None and args.port_option is not None and args.port != args.port_option:
        raise AppError(
            f"port {args.port} and --port {args.port_option} disagree", common.EXIT_USAGE
        )
    overrides = {
        "ae_title": args.ae_title,
        "port": args.port if args.port is not None else args.port_option,
        "max_pdu": args.max_pdu,
        "acse_timeout": args.acse_timeout,
        "dimse_timeout": args.dimse_timeout,
        "network_timeout": args.network_timeout,
        "bind_address": args.bind_address,
        "max_associations": args.max_associations,
        "pending_every": args.pending_every,
    }
    for key, value in overrides.items():
        if value is not None:
            setattr(settings, key, value)
    if args.instance_location is not None:
        settings.instance_location = Path(args.instance_location)
    if args.database_location is not None:
        settings.database_location = Path(args.database_location)
    common.check_ae_title(settings.ae_title, "-aet")
    if settings.pending_every < 0:
        raise AppError("pending_every cannot be negative", common.EXIT_USAGE)
    for title, destination in args.move_aet:
        settings.destinations[title] = destination
    return settings
