"""Command-line apps: ``dimse <app> ...`` (also ``python -m dimse <app> ...``).

Each app is a module with ``main(argv, prog) -> int``; they are imported only when
chosen, so ``dimse --help`` stays instant. Flags follow pynetdicom's apps of the same
name (which follow dcmtk's), so existing scripts keep working.
"""

from __future__ import annotations

import importlib
import sys

import dimse

__all__ = ["APPS", "main"]

APPS = {
    "echoscu": "Verification SCU: send C-ECHO to check a peer is there",
    "echoscp": "Verification SCP: answer C-ECHO",
    "storescu": "Storage SCU: send DICOM files or directories with C-STORE",
    "storescp": "Storage SCP: receive instances with C-STORE into a directory",
    "findscu": "Query/Retrieve SCU: query with C-FIND, print the matches as a table",
    "getscu": "Query/Retrieve SCU: retrieve instances with C-GET into a directory",
    "movescu": "Query/Retrieve SCU: have instances sent to an AE with C-MOVE",
    "qrscp": "Query/Retrieve SCP: store, index, and answer C-FIND/C-GET/C-MOVE",
}


def _usage() -> str:
    lines = [
        "usage: dimse <app> [options]   (dimse <app> --help for the app's options)",
        "",
        "DICOM networking apps built on dimse.",
        "",
        "apps:",
        *(f"  {name:<10} {text}" for name, text in APPS.items()),
        "",
        "options:",
        "  -h, --help  show this help message and exit",
        "  --version   print version information and exit",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the app named by the first argument; returns the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        print(_usage(), file=sys.stderr)
        return 2
    if args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if args[0] == "--version":
        print(f"dimse {dimse.__version__}")
        return 0
    name = args[0]
    if name not in APPS:
        print(_usage(), file=sys.stderr)
        print(f"\ndimse: unknown app {name!r} (choose from {', '.join(APPS)})", file=sys.stderr)
        return 2
    module = importlib.import_module(f"dimse.apps.{name}")
    code: int = module.main(args[1:], prog=f"dimse {name}")
    return code
