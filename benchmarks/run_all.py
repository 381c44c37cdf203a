"""Every benchmark, short and bounded, then one table of the figures that matter against their goals.

    .venv/bin/python benchmarks/run_all.py [--only turn sql stream upload json-limit fake-llm faults
        account-security upload-memory] [--keep DIR]

Each benchmark runs as its own process (its output shown as it goes) with settings shorter than its
defaults, so `make bench` stays within about 18 minutes on a 2-core machine (account-security and
upload-memory, issue 22's, take about 3 minutes each; faults about 5), and writes its figures
as JSON; the table at the end is read from those files. Run a benchmark alone for its full figures
(its docstring has the command). Exit status 1 when a benchmark failed to produce figures; a goal
missed is shown in the table, not an exit status (figures from a busy machine are noisy).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass
class Row:
    where: str  # backend, load
    measure: str
    value: str
    goal: str = ""
    met: bool | None = None


def turn_rows(figures: list[dict[str, Any]]) -> list[Row]:
    rows = []
    for row in figures:
        where = f"{row['backend']}, {row['clients']} clients"
        goals = row["clients"] == 50  # issue 4's goals are set at 50 clients
        ratio, added = row["throughput_ratio"], row["added_p50_ms"]
        rows += [
            Row(
                where,
                "turns/s service/floor",
                f"{ratio:.2f}",
                ">= 0.6" if goals else "",
                ratio >= 0.6 if goals else None,
            ),
            Row(
                where,
                "added p50 latency",
                f"{added:.1f} ms",
                "<= 5 ms" if goals else "",
                added <= 5 if goals else None,
            ),
        ]
    return rows


def sql_rows(figures: dict[str, dict[str, list[float]]]) -> list[Row]:
    """What one statement costs the service's process: SQLAlchemy's asyncio layer over the async
    driver alone (the floor a turn's 22 statements stand on)."""
    rows = []
    for backend, layers in figures.items():
        service, driver = list(layers.values())[:2]
        rows.append(Row(backend, "CPU per SELECT (sqlalchemy async)", f"{service[0]:.0f} us"))
        rows.append(
            Row(backend, "CPU per SELECT sqlalchemy/driver alone", f"{service[0] / driver[0]:.1f}")
        )
    return rows


def stream_rows(summary: dict[str, Any]) -> list[Row]:
    rows = []
    for row in summary["rows"]:
        s, r = row["service"], row["ratio"]
        where = f"{row['backend']}, {row['level']} streams"
        per_core = f"streams per core service/floor (service {s['streams_per_core']:.0f})"
        memory = f"KiB per open stream service/floor (service {s['kib_per_stream']:.0f})"
        rows += [
            Row(where, "CPU per event service/floor", f"{r['cpu_per_event']:.1f}"),
            Row(where, per_core, f"{r['streams_per_core']:.2f}"),
            Row(where, memory, f"{r['kib_per_stream']:.1f}"),
            Row(
                where,
                f"first delta p95 service/floor ({s['shed']} shed)",
                f"{r['first_delta_p95']:.1f}",
            ),
        ]
    errors, checked, ok = summary["errors"], summary["stored_checked"], summary["stored_ok"]
    rows += [
        Row(
            "all levels",
            "errors (a 503 overloaded is shed, not an error)",
            str(errors),
            "0",
            not errors,
        ),
        Row(
            "all levels", "completed streams found stored", f"{ok}/{checked}", "all", ok == checked
        ),
    ]
    return rows


def upload_rows(figures: dict[str, Any]) -> list[Row]:
    where = figures["backend"]
    rows = []
    if upload := figures.get("upload_50mb"):
        growth, goal = upload["rss_peak_growth_mb"], upload["goal_growth_mb"]
        rows.append(
            Row(where, "RSS growth, 50 MB upload", f"{growth} MB", f"<= {goal} MB", growth <= goal)
        )
    for reject in figures.get("reject_60mb", []):
        if "declared_length" in reject:
            framing = "length declared" if reject["declared_length"] else "chunked"
            read_mb = reject["server_bytes_read"] / 2**20
            rows.append(
                Row(where, f"read of a 60 MB upload refused ({framing})", f"{read_mb:.1f} MB")
            )
    if ingestion := figures.get("ingestion"):
        pages = f"{ingestion['pages']} pages"
        ratio = f"{ingestion['ratio_service_to_bare']:.2f}"
        rows.append(Row(where, f"ingestion pages/s service/bare pypdf ({pages})", ratio))
    if ask := figures.get("ask"):
        added = ask["added_by_retrieval_common_words_p50_ms"]
        chunks = f"{ask['corpus_chunks']} chunks"
        rows.append(Row(where, f"retrieval's share of first token ({chunks})", f"{added:.0f} ms"))
    return rows


def json_limit_rows(figures: list[dict[str, Any]]) -> list[Row]:
    return [
        Row(
            f"{r['body_mb']:.0f} MB body",
            f"RSS growth ({r['framing']}; {r['status'].removeprefix('HTTP/1.1 ')})",
            f"{r['rss_growth_mb']} MB",
            "< 5 MB, 413",
            bool(r["goal_met"]),
        )
        for r in figures
    ]


def fake_llm_rows(figures: dict[str, Any]) -> list[Row]:
    plain, sdk, server = figures["httpx"], figures["openai_sdk"], figures["server"]
    per_s = server["requests_per_s"]
    return [
        Row(
            "in-process",
            "per call fake/respx (httpx)",
            f"{plain['ratio']:.2f}",
            "<= 1.5",
            plain["ratio"] <= 1.5,
        ),
        Row("in-process", "per call fake/respx (openai SDK)", f"{sdk['ratio']:.2f}"),
        Row("server", "requests/s", f"{per_s:,.0f}", ">= 2,000", per_s >= 2000),
    ]


def faults_rows(figures: dict[str, Any]) -> list[Row]:
    rows = []
    if lite := figures.get("sqlite"):
        where = f"sqlite, {lite['clients']} clients at once"
        rows += [
            Row(where, "errors (any non-200)", str(lite["errors"]), "0", not lite["errors"]),
            Row(
                where,
                '"database is locked" in the log',
                str(lite["database_is_locked_in_log"]),
                "0",
                not lite["database_is_locked_in_log"],
            ),
            Row(
                where, "lost tool effects", str(lite["lost_effects"]), "0", not lite["lost_effects"]
            ),
            Row(where, "turn p50 loaded/one client", f"{lite['p50_over_floor']:.1f}"),
        ]
    for key, name in (("postgres", "postgres"), ("sqlite-lock", "sqlite write lock")):
        if not (pg := figures.get(key)):
            continue
        count = pg.get("replicas", 1)  # sqlite-lock: "3 workers of one serve, one file"
        replicas = f"{count} replicas, " if isinstance(count, int) and count > 1 else ""
        replicas = f"{count}, " if isinstance(count, str) else replicas
        where = f"{name}, {replicas}{pg['outage_s']:.0f} s outage, {pg['clients']} clients"
        rows += [
            Row(where, "answers 500", str(pg["answers_500"]), "0", not pg["answers_500"]),
            Row(
                where,
                f"runs not final {pg['settle_s']:.0f} s after restore",
                str(pg["runs_not_final"]),
                "0",
                not pg["runs_not_final"],
            ),
            Row(
                where,
                "conversations refusing a new turn",
                str(pg["next_turn_refused"]),
                "0",
                not pg["next_turn_refused"],
            ),
            Row(where, "first 200 after restore", f"{pg['first_success_after_restore_s']:.1f} s"),
            Row(where, "every client's first 200", f"{pg['every_client_succeeded_after_s']:.1f} s"),
            Row(where, "that over the floor's turn p50", f"{pg['recovery_over_floor_p50']:.1f}"),
            Row(where, "turns/s after/before", f"{pg['throughput_after_over_floor']:.2f}"),
        ]
    return rows


def account_security_rows(figures: dict[str, Any]) -> list[Row]:
    """Issue 22: a known address answers as fast as an unknown one; a login storm does not slow
    the rest of the service down."""
    where = figures["backend"]
    rows = []
    if found := figures.get("enumeration"):
        for what in ("forgot", "register"):
            difference = found[f"{what}_difference_ms"]
            rows += [
                Row(
                    where,
                    f"{what}: median known - unknown ({found['samples']} each)",
                    f"{difference:.2f} ms",
                    "< 1 ms",
                    abs(difference) < 1,
                ),
                Row(
                    where,
                    f"{what}: noise floor (unknown - unknown)",
                    f"{found[f'{what}_noise_floor_ms']:.2f} ms",
                ),
            ]
    for label, storm in figures.items():
        if label.startswith("storm, "):
            p99 = storm["storm_p99_ms"]
            measure = f"/healthz p99, {storm['clients']}-client login storm ({label[7:]})"
            rows.append(Row(where, measure, f"{p99:.1f} ms", "< 50 ms", p99 < 50))
    return rows


def upload_memory_rows(figures: list[dict[str, Any]]) -> list[Row]:
    return [
        Row(
            f"{row['uploads']} x {row['mb_each']:g} MB text",
            "peak RSS growth to ready",
            f"{row['growth_mb']} MB",
            f"<= {row['goal_mb']} MB",
            row["growth_mb"] <= row["goal_mb"],
        )
        for row in figures
    ]


@dataclass
class Benchmark:
    name: str
    argv: list[str]  # after the script; "{json}" is replaced by the figures' path
    rows: Callable[[Any], list[Row]]
    timeout_s: float


BENCHMARKS = [
    Benchmark(
        "turn",
        ["bench_agent_turn.py", "--clients", "1", "50", "--turns", "200", "--json", "{json}"],
        turn_rows,
        300,
    ),
    Benchmark(
        "sql",
        ["bench_sql_statement.py", "--statements", "2000", "--json", "{json}"],
        sql_rows,
        120,
    ),
    Benchmark(
        "stream",
        [
            *("bench_streams.py", "--levels", "50", "300", "--seconds", "10"),
            *("--verify", "50", "--json-summary", "{json}"),
        ],
        stream_rows,
        400,
    ),
    Benchmark(
        "upload",
        ["bench_documents.py", "--corpus-chunks", "2000", "--asks", "5", "--json", "{json}"],
        upload_rows,
        400,
    ),
    Benchmark(
        "json-limit",
        ["bench_json_limit.py", "--mb", "200", "--json", "{json}"],
        json_limit_rows,
        200,
    ),
    Benchmark(
        "fake-llm",
        [
            "bench_fake_llm.py",
            "--server-requests",
            "3000",
            "--max-seconds",
            "5",
            "--json",
            "{json}",
        ],
        fake_llm_rows,
        200,
    ),
    Benchmark("faults", ["bench_faults.py", "--json", "{json}"], faults_rows, 600),
    Benchmark(
        "account-security",
        [
            *("bench_account_security.py", "--samples", "60", "--storm", "12"),
            *("--probes", "150", "--json", "{json}"),
        ],
        account_security_rows,
        400,
    ),
    Benchmark(
        "upload-memory",
        ["bench_upload_memory.py", "--mb", "45", "--json", "{json}"],
        upload_memory_rows,
        400,
    ),
]


def run(benchmark: Benchmark, folder: Path) -> tuple[list[Row], float]:
    figures = folder / f"{benchmark.name}.json"
    figures.unlink(missing_ok=True)
    argv = [str(figures) if a == "{json}" else a for a in benchmark.argv]
    print(f"\n== {benchmark.name}: {' '.join(argv)}", flush=True)
    started = time.monotonic()
    try:
        code = subprocess.run(
            [sys.executable, str(HERE / argv[0]), *argv[1:]], timeout=benchmark.timeout_s
        ).returncode
    except subprocess.TimeoutExpired:
        code = -1
    seconds = time.monotonic() - started
    if not figures.exists():
        why = "timed out" if code == -1 else f"exit status {code}"
        return [Row("", f"no figures ({why}; output above)", "-", met=False)], seconds
    return benchmark.rows(json.loads(figures.read_text())), seconds


def print_table(results: dict[str, tuple[list[Row], float]]) -> None:
    rows = [row for found, _ in results.values() for row in found]
    labels = {name: f"{name} ({seconds:.0f} s)" for name, (_, seconds) in results.items()}
    width = max(len(label) for label in labels.values())
    where = max(len(row.where) for row in rows)
    measure = max(len(row.measure) for row in rows)
    print(
        f"\n{'benchmark':{width}s} {'where':{where}s} {'measure':{measure}s} "
        f"{'value':>9s} {'goal':>11s}"
    )
    for name, (found, _) in results.items():
        for i, row in enumerate(found):
            label = labels[name] if i == 0 else ""
            status = {True: "ok", False: "MISSED", None: ""}[row.met]
            print(
                f"{label:{width}s} {row.where:{where}s} {row.measure:{measure}s} {row.value:>9s} "
                f"{row.goal:>11s} {status}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    names = [b.name for b in BENCHMARKS]
    parser.add_argument(
        "--only", nargs="+", choices=names, default=names, type=lambda name: name.replace("_", "-")
    )
    parser.add_argument("--keep", type=Path, help="keep each benchmark's JSON figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = {b.name: run(b, folder) for b in BENCHMARKS if b.name in args.only}
    print_table(results)
    failed = any(row.value == "-" for rows, _ in results.values() for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
