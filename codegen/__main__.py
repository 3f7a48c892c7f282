"""``python -m codegen``: regenerate, check freshness, or parse pages.

    python -m codegen            regenerate spec/dicom-services.json, generated/, docs/
    python -m codegen --check    fail with a unified diff if anything is stale
    python -m codegen parse F..  print the page spec of each file (no merge, no errata)
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from codegen import specjson
from codegen.extract import read_page, sniff_form
from codegen.extract.raw import Problem
from codegen.model import SourceFile, Spec
from codegen.normalise import normalise


def _parse_command(files: list[str]) -> int:
    sources = []
    services = []
    problems: list[Problem] = []
    unreadable = False
    for name in files:
        path = Path(name)
        try:
            data = path.read_bytes()
            text = data.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{name}:1: error: cannot read: {exc}", file=sys.stderr)
            unreadable = True
            continue
        form = sniff_form(name, text)
        page = read_page(name, text, form)
        service, found = normalise(page)
        problems.extend(found)
        if not page.tables or any(p.severity == "error" for p in found):
            unreadable = True
        if not page.tables:
            print(f"{name}:1: error: no table could be read", file=sys.stderr)
        sources.append(SourceFile(name, hashlib.sha256(data).hexdigest(), form))
        services.append(service)
    spec = Spec(tuple(sources), tuple(services), ())
    out = specjson.spec_to_dict(spec, {})
    del out["category_rules"]
    sys.stdout.write(specjson.dumps(out))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if unreadable else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "parse":
        parser = argparse.ArgumentParser(prog="python -m codegen parse")
        parser.add_argument("files", nargs="+", help="service-class pages (rst, html, text)")
        args = parser.parse_args(argv[1:])
        return _parse_command(args.files)
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory; fail with a diff if anything is stale")
    parser.add_argument("--root", default=".", help="project root (default: .)")
    args = parser.parse_args(argv)
    from codegen.pipeline import run

    return run(Path(args.root), check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
