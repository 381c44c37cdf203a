"""`python -m agent_testkit.fake_llm --script file.yaml [--port N]`: the fake LLM as a process.

For demos and end-to-end tests of an app in another process: point it at the printed base URL. On
SIGINT/SIGTERM the server stops, prints any strictness problem and exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from agent_testkit.fake_llm.script_file import load_script_file
from agent_testkit.fake_llm.server import FakeLLMServer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_testkit.fake_llm", description=__doc__)
    parser.add_argument(
        "--script", help="YAML or JSON script file (none: answer every call with a default)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    args = parser.parse_args(argv)

    script, options = load_script_file(args.script) if args.script else ([], {"strict": False})
    server = FakeLLMServer(host=args.host, port=args.port, **options).script(*script)
    assert isinstance(server, FakeLLMServer)
    server.start()
    print(f"fake LLM serving at {server.base_url}", flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop()
    problems = server.problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
