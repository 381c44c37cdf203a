"""`python -m agent_testkit.cassettes convert SRC... --out DIR`: vcrpy cassettes in this kit's format.

Each SRC (a vcrpy or pydantic-ai YAML cassette) is written to DIR under the same file name, scrubbed
with the default rules; `--source` is kept in the file, to say where the recording came from.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agent_testkit.cassettes.convert import convert_vcr_cassette
from agent_testkit.cassettes.files import format_time, parse_time, save_cassette


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_testkit.cassettes", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert vcrpy YAML cassettes")
    convert.add_argument("sources", nargs="+", type=Path, help="vcrpy cassette files")
    convert.add_argument("--out", type=Path, required=True, help="directory to write to")
    convert.add_argument("--source", help="where the recordings come from (kept in each file)")
    convert.add_argument(
        "--recorded-at", help="ISO date, when the responses carry no `created` timestamp"
    )
    args = parser.parse_args(argv)

    recorded_at = parse_time(args.recorded_at) if args.recorded_at else None
    for path in args.sources:
        cassette = convert_vcr_cassette(path, source=args.source, recorded_at=recorded_at)
        target = args.out / path.with_suffix(".yaml").name
        save_cassette(target, cassette)
        when = format_time(cassette.recorded_at) if cassette.recorded_at else "unknown"
        print(f"{path} -> {target}: {len(cassette.interactions)} interactions, recorded {when}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
