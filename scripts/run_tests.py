"""Run the suite on SQLite, then on PostgreSQL when one is reachable, and say which ran.

`TEST_DATABASE_URL` names the PostgreSQL server to use (the tests create a uniquely named
database there and drop it); without it, the local 127.0.0.1:5432 is tried. With
`REQUIRE_POSTGRES=1` (as in CI) an unreachable PostgreSQL is a failure, not a skip.
Tests run in parallel, one pytest-xdist worker per core (`TEST_WORKERS` overrides; 0 runs them in
this process), each worker on its own database. The ten slowest tests are printed after each run.
Extra arguments go to pytest; `--sqlite-only` (`make quick`) skips the PostgreSQL pass. The kit's
own tests (packages/agent-testkit/tests) never touch the service's database, so a whole-suite run
(no paths given) runs them on the SQLite pass only.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SERVICE_TESTS = "tests"  # what depends on the database; the kit's tests are the rest of testpaths
SOURCES = ("packages/agent-service/src", "packages/agent-testkit/src")


def compile_sources() -> None:
    """Write our packages' bytecode (only what changed) before the run, once, rather than in the
    dozens of processes a run starts at once (workers, served services), about a second each.
    `make install` does the same for the dependencies (`--compile-bytecode`)."""
    for source in SOURCES:
        compileall.compile_dir(source, quiet=1, workers=0)


def postgres_reachable(url: str) -> bool:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def parallel_args() -> list[str]:
    """One worker per core; a worker that runs out of tests takes some of another's (worksteal),
    so a run no longer waits on the worker that was dealt the fuzzer's long shards."""
    workers = int(os.environ.get("TEST_WORKERS") or os.cpu_count() or 1)
    return ["-n", str(workers), "--dist", "worksteal"] if workers > 1 else []


def names_paths(args: list[str]) -> bool:
    """Whether pytest is given tests to run (a file or folder, maybe with ::name), not only options."""
    return any(os.path.exists(arg.split("::")[0]) for arg in args if not arg.startswith("-"))


def run_pytest(label: str, env: dict[str, str], args: list[str]) -> tuple[int, float]:
    print(f"\n=== tests on {label} ===", flush=True)
    started = time.perf_counter()
    command = [sys.executable, "-m", "pytest", *parallel_args(), "--durations=10", *args]
    code = subprocess.call(command, env=env)
    return code, time.perf_counter() - started


def main() -> int:
    args = sys.argv[1:]
    sqlite_only = "--sqlite-only" in args
    args = [arg for arg in args if arg != "--sqlite-only"]
    compile_sources()
    # PYTHONDONTWRITEBYTECODE (set on our CI box) also stops pytest from caching the test modules
    # and plugins it rewrites for assertions: each worker rewrote ~700 modules (langsmith,
    # schemathesis, hypothesis come with pytest plugins), 4-6 s per worker per pass.
    dropped = ("TEST_DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    base_env = {k: v for k, v in os.environ.items() if k not in dropped}
    results: list[tuple[str, int, float]] = []

    code, seconds = run_pytest("SQLite", base_env, args)
    results.append(("SQLite", code, seconds))

    pg_url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES
    if sqlite_only:
        print("\nThe PostgreSQL pass was not asked for (--sqlite-only).")
    elif postgres_reachable(pg_url):
        pg_args = args if names_paths(args) else [SERVICE_TESTS, *args]
        pg_env = {**base_env, "TEST_DATABASE_URL": pg_url}
        code, seconds = run_pytest("PostgreSQL (the service's tests)", pg_env, pg_args)
        results.append(("PostgreSQL", code, seconds))
    elif os.environ.get("REQUIRE_POSTGRES") == "1":
        print(f"PostgreSQL is required but not reachable at {pg_url!r}", file=sys.stderr)
        results.append(("PostgreSQL (unreachable)", 1, 0.0))
    else:
        print(f"\nPostgreSQL not reachable at {pg_url!r}: ran on SQLite only.")

    print("\n=== summary ===")
    for label, code, seconds in results:
        print(f"{label}: {'passed' if code == 0 else f'FAILED (exit {code})'} in {seconds:.1f}s")
    return max(code for _, code, _ in results)


if __name__ == "__main__":
    sys.exit(main())
