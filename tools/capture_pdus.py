"""Capture golden DICOM Upper Layer PDUs from real peers (dcmtk, pynetdicom).

Usage: .venv/bin/python tools/capture_pdus.py --out tests/golden/pdus

Runs every scenario in `tools.pdu_scenarios` with the peers talking through recording
proxies on 127.0.0.1, keeps each distinct PDU once per sending toolkit, and writes
`<toolkit>-<scenario>-<nn>-<pdu-kind>.bin` plus MANIFEST.toml. Nothing in the output
directory changes unless every scenario succeeded. The small walker here reads item types
for the manifest only; it is deliberately independent of `dimse.pdu`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import hashlib
import json
import platform
import struct
import tempfile
from dataclasses import dataclass

from tools.pdu_harness import Harness, Record, ScenarioError, dcmtk_version
from tools.pdu_proxy import Direction
from tools.pdu_scenarios import SCENARIOS, Scenario, make_datasets

PDU_KINDS = {
    0x01: "A-ASSOCIATE-RQ",
    0x02: "A-ASSOCIATE-AC",
    0x03: "A-ASSOCIATE-RJ",
    0x04: "P-DATA-TF",
    0x05: "A-RELEASE-RQ",
    0x06: "A-RELEASE-RP",
    0x07: "A-ABORT",
}
ITEM_TYPES = (
    0x10, 0x20, 0x21, 0x30, 0x40, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
)  # fmt: skip
"""Every item and sub-item type of PS3.7 Annex D / PS3.8 9.3 the captures must cover."""

DIMSE_COMMANDS = {
    0x0001: "C-STORE-RQ", 0x8001: "C-STORE-RSP", 0x0010: "C-GET-RQ", 0x8010: "C-GET-RSP",
    0x0020: "C-FIND-RQ", 0x8020: "C-FIND-RSP", 0x0021: "C-MOVE-RQ", 0x8021: "C-MOVE-RSP",
    0x0030: "C-ECHO-RQ", 0x8030: "C-ECHO-RSP", 0x0FFF: "C-CANCEL-RQ",
}  # fmt: skip
MAX_FILE_SIZE = 64 * 1024
ASSOCIATE_FIXED = 6 + 68
"""Header plus protocol version, reserved, called/calling AE titles and 32 reserved bytes."""


class WalkError(ValueError):
    """A captured PDU does not have the structure its header promises."""


def _items(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(type, body start, body end) of the items in data[start:end] (2-byte lengths)."""
    found: list[tuple[int, int, int]] = []
    pos = start
    while pos < end:
        if pos + 4 > end:
            raise WalkError(f"truncated item header at offset {pos}")
        item_type = data[pos]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if pos + 4 + length > end:
            raise WalkError(f"item 0x{item_type:02x} at offset {pos} overruns its parent")
        found.append((item_type, pos + 4, pos + 4 + length))
        pos += 4 + length
    return found


def _command_field(data: bytes) -> int | None:
    """(0000,0100) from a whole command set in implicit VR little endian."""
    pos = 0
    while pos + 8 <= len(data):
        group, element, length = struct.unpack_from("<HHI", data, pos)
        if group == 0 and element == 0x0100 and length == 2:
            return int(struct.unpack_from("<H", data, pos + 8)[0])
        pos += 8 + length
    return None


@dataclass(frozen=True)
class Description:
    """What the manifest says about one PDU beyond its bytes."""

    item_types: tuple[int, ...]
    dimse: tuple[str, ...]
    notes: str


def describe(data: bytes) -> Description:
    """Walk one whole PDU: item types (nested ones included), DIMSE commands, key fields."""
    if len(data) < 6 or struct.unpack_from(">I", data, 2)[0] != len(data) - 6:
        raise WalkError("length field does not match the PDU size")
    pdu_type = data[0]
    if pdu_type in (0x01, 0x02):
        return _describe_associate(data)
    if pdu_type == 0x03:
        return Description((), (), f"result={data[7]} source={data[8]} reason={data[9]}")
    if pdu_type == 0x07:
        return Description((), (), f"source={data[8]} reason={data[9]}")
    if pdu_type in (0x05, 0x06):
        return Description((), (), "")
    if pdu_type == 0x04:
        return _describe_pdata(data)
    raise WalkError(f"unknown PDU type 0x{pdu_type:02x}")


def _describe_associate(data: bytes) -> Description:
    called = data[10:26].decode("ascii", "replace").rstrip()
    calling = data[26:42].decode("ascii", "replace").rstrip()
    types: set[int] = set()
    contexts: list[str] = []
    for item_type, start, end in _items(data, ASSOCIATE_FIXED, len(data)):
        types.add(item_type)
        if item_type in (0x20, 0x21):
            if end - start < 4:
                raise WalkError(f"presentation context item 0x{item_type:02x} too short")
            subs = _items(data, start + 4, end)
            types.update(sub for sub, _, _ in subs)
            if item_type == 0x20:
                n_ts = sum(1 for sub, _, _ in subs if sub == 0x40)
                contexts.append(f"{data[start]}:{n_ts}ts")
            else:
                contexts.append(f"{data[start]}:r{data[start + 2]}")
        elif item_type == 0x50:
            types.update(sub for sub, _, _ in _items(data, start, end))
    shown = contexts if len(contexts) <= 8 else [*contexts[:6], f"... {len(contexts)} in all"]
    notes = f"called={called} calling={calling} contexts=[{' '.join(shown)}]"
    return Description(tuple(sorted(types)), (), notes)


def _describe_pdata(data: bytes) -> Description:
    pos = 6
    pdvs: list[str] = []
    commands: list[str] = []
    while pos < len(data):
        if pos + 6 > len(data):
            raise WalkError(f"truncated PDV header at offset {pos}")
        (length,) = struct.unpack_from(">I", data, pos)
        if length < 2 or pos + 4 + length > len(data):
            raise WalkError(f"PDV at offset {pos} has a bad length {length}")
        context, control = data[pos + 4], data[pos + 5]
        kind = "cmd" if control & 1 else "data"
        last = "last" if control & 2 else "more"
        pdvs.append(f"{context}:{kind}:{last}:{length - 2}")
        if control & 1:
            field = _command_field(data[pos + 6 : pos + 4 + length])
            if field is not None:
                commands.append(DIMSE_COMMANDS.get(field, f"0x{field:04x}"))
        pos += 4 + length
    return Description((), tuple(commands), f"pdvs=[{' '.join(pdvs)}]")


# -- selection and output --------------------------------------------------------------


@dataclass(frozen=True)
class Golden:
    """One PDU chosen for the golden set."""

    file: str
    scenario: str
    record: Record
    description: Description

    @property
    def data(self) -> bytes:
        return self.record.pdu.data


def _slug(kind: str) -> str:
    return kind.lower()


def select(results: list[tuple[Scenario, list[Record]]]) -> list[Golden]:
    """Keep the first occurrence of each (sending toolkit, sha256); name the files."""
    seen: set[tuple[str, str]] = set()
    chosen: list[Golden] = []
    for scen, records in results:
        for index, record in enumerate(records):
            data = record.pdu.data
            key = (record.sender.toolkit, hashlib.sha256(data).hexdigest())
            if key in seen:
                continue
            seen.add(key)
            if len(data) >= MAX_FILE_SIZE:
                raise ScenarioError(f"{scen.name}: a {len(data)}-byte PDU is over the size limit")
            kind = _slug(PDU_KINDS.get(data[0], f"type-{data[0]:02x}"))
            name = f"{record.sender.toolkit}-{scen.name}-{index:02d}-{kind}.bin"
            chosen.append(Golden(name, scen.name, record, describe(data)))
    return chosen


def coverage_problems(chosen: list[Golden]) -> list[str]:
    """What the golden set misses: PDU types, item types, the 30-PDU minimum."""
    problems: list[str] = []
    pdu_types = {g.data[0] for g in chosen}
    items = {t for g in chosen for t in g.description.item_types}
    problems += [f"no {PDU_KINDS[t]}" for t in sorted(set(PDU_KINDS) - pdu_types)]
    problems += [f"no item type 0x{t:02x}" for t in ITEM_TYPES if t not in items]
    if len(chosen) < 30:
        problems.append(f"only {len(chosen)} PDUs")
    return problems


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)


def _toml_hex_list(values: tuple[int, ...]) -> str:
    return "[" + ", ".join(f"0x{v:02x}" for v in values) + "]"


def render_manifest(
    chosen: list[Golden], scenarios: list[Scenario], versions: dict[str, str]
) -> str:
    """MANIFEST.toml text: versions, scenarios, then one [[pdu]] table per file."""
    lines = [
        "# Golden PDUs captured from real peers by tools/capture_pdus.py.",
        "# Generated: rerun `.venv/bin/python tools/capture_pdus.py --out tests/golden/pdus`",
        "# instead of editing. Integers in hex are PDU and item type codes.",
        "",
        "[capture]",
        f"tool = {_toml_str('tools/capture_pdus.py')}",
        *(f"{name} = {_toml_str(version)}" for name, version in versions.items()),
        "",
    ]
    counts: dict[str, int] = {}
    for golden in chosen:
        counts[golden.scenario] = counts.get(golden.scenario, 0) + 1
    for scen in scenarios:
        lines += [
            "[[scenario]]",
            f"name = {_toml_str(scen.name)}",
            f"summary = {_toml_str(scen.summary)}",
            f"pdus = {counts.get(scen.name, 0)}",
            "",
        ]
    for golden in chosen:
        record, desc = golden.record, golden.description
        lines += [
            "[[pdu]]",
            f"file = {_toml_str(golden.file)}",
            f"sha256 = {_toml_str(hashlib.sha256(golden.data).hexdigest())}",
            f"size = {len(golden.data)}",
            f"pdu_type = 0x{golden.data[0]:02x}",
            f"pdu_kind = {_toml_str(PDU_KINDS[golden.data[0]])}",
            f"sender = {_toml_str(record.sender.label)}",
            f"receiver = {_toml_str(record.receiver.label)}",
            f"direction = {_toml_str(record.pdu.direction.value)}",
            f"scenario = {_toml_str(golden.scenario)}",
            f"item_types = {_toml_hex_list(desc.item_types)}",
            f"dimse = [{', '.join(_toml_str(c) for c in desc.dimse)}]",
            f"notes = {_toml_str(desc.notes)}",
            "",
        ]
    return "\n".join(lines)


def write_output(out: Path, chosen: list[Golden], manifest: str) -> None:
    """Replace the .bin files and MANIFEST.toml in `out` (other files are left alone)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.bin"):
        old.unlink()
    for golden in chosen:
        (out / golden.file).write_bytes(golden.data)
    (out / "MANIFEST.toml").write_text(manifest, encoding="utf-8")


def run_scenarios(
    scenarios: list[Scenario], dcmtk_bin: Path, keep: Path | None, verbose: bool
) -> tuple[list[tuple[Scenario, list[Record]]], dict[str, str]]:
    """Run each scenario in its own temporary directory; fail on the first bad one."""
    import pydicom
    import pynetdicom

    versions = {
        "dcmtk": dcmtk_version(dcmtk_bin),
        "pynetdicom": str(pynetdicom.__version__),
        "pydicom": str(pydicom.__version__),
        "python": platform.python_version(),
    }
    results: list[tuple[Scenario, list[Record]]] = []
    with tempfile.TemporaryDirectory(prefix="dimse-pdus-") as tmp_name:
        root = keep if keep is not None else Path(tmp_name)
        data_dir = root / "datasets"
        data_dir.mkdir(parents=True, exist_ok=True)
        datasets = make_datasets(data_dir)
        for scen in scenarios:
            work = root / scen.name
            work.mkdir(parents=True, exist_ok=True)
            harness = Harness(
                work, dcmtk_bin, versions["dcmtk"], versions["pynetdicom"], datasets, verbose
            )
            try:
                scen.run(harness)
            finally:
                records = harness.close()
            logs = f"logs in {work}" if keep is not None else "rerun with --keep DIR for logs"
            if harness.errors:
                raise ScenarioError(f"{scen.name}: {'; '.join(harness.errors)} ({logs})")
            seen = {r.pdu.pdu_type for r in records}
            if not scen.expect <= seen:
                missing = ", ".join(PDU_KINDS[t] for t in sorted(scen.expect - seen))
                raise ScenarioError(f"{scen.name}: no {missing} captured ({logs})")
            print(f"{scen.name}: {len(records)} PDUs", file=sys.stderr)
            results.append((scen, records))
    return results, versions


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output directory (tests/golden/pdus)")
    parser.add_argument("--dcmtk-bin", type=Path, default=Path("/usr/bin"), help="dcmtk tools")
    parser.add_argument(
        "--only", action="append", default=[], help="run only this scenario (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    parser.add_argument("--keep", type=Path, help="keep peer logs and files in this directory")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    if args.list:
        for scen in SCENARIOS:
            print(f"{scen.name}: {scen.summary}")
        return 0
    if args.out is None:
        parser.error("--out is required")
    unknown = set(args.only) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    scenarios = [s for s in SCENARIOS if not args.only or s.name in args.only]
    try:
        results, versions = run_scenarios(scenarios, args.dcmtk_bin, args.keep, args.verbose)
        chosen = select(results)
    except (ScenarioError, OSError, ValueError) as exc:
        print(f"capture failed, {args.out} left unchanged: {exc}", file=sys.stderr)
        return 1
    problems = coverage_problems(chosen)
    if problems and not args.only:
        print(
            f"coverage incomplete, {args.out} left unchanged: {'; '.join(problems)}",
            file=sys.stderr,
        )
        return 1
    write_output(args.out, chosen, render_manifest(chosen, scenarios, versions))
    by_dir = {d: sum(1 for g in chosen if g.record.pdu.direction is d) for d in Direction}
    print(
        f"wrote {len(chosen)} PDUs to {args.out} "
        f"({by_dir[Direction.FROM_REQUESTOR]} from requestors, "
        f"{by_dir[Direction.FROM_ACCEPTOR]} from acceptors)",
        file=sys.stderr,
    )
    for problem in problems:
        print(f"  missing: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
