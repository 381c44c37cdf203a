"""Mutation testing of the critical modules: do their tests notice when the code is wrong?

Each mutant changes one operator or constant of one module (`==` to `!=`, `and` to `or`, `<` to
`<=`, a number by one, `True` to `False`, a `not` removed), is written into a copy of the source
tree placed first on `PYTHONPATH`, and the module's tests run against it. A mutant the tests fail
on is killed; one they pass is a survivor: a behaviour nothing checks. The score is killed / all.

    .venv/bin/python scripts/mutation.py                 # every module, fails under 90 %
    .venv/bin/python scripts/mutation.py sniff tokens    # modules whose path contains a word

mutmut 3 was tried first: it mutates a copy under `mutants/` but our editable installs put the real
`src/` folders on `sys.path`, so its tests never reached a mutant. Tests run on SQLite.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "packages/agent-service/src"
KIT = "packages/agent-testkit/src"

# module (relative to ROOT) -> the tests that should notice a change in it
TARGETS: dict[str, list[str]] = {
    f"{SERVICE}/agent_service/integrations/github/signature.py": [
        "tests/unit/test_webhook_signature.py",
        "tests/integration/test_github_webhook.py",
    ],
    f"{SERVICE}/agent_service/auth/tokens.py": [
        "tests/unit/test_tokens.py",
        "tests/integration/test_access_tokens.py",
    ],
    f"{SERVICE}/agent_service/agents/tool.py": [
        "tests/unit/test_agent_registry.py",
        "tests/unit/test_agent_tool.py",
        "tests/integration/test_agent_loop.py",
    ],
    f"{KIT}/agent_testkit/evals/gate.py": ["packages/agent-testkit/tests/test_evals_gate.py"],
    f"{SERVICE}/agent_service/documents/sniff.py": ["tests/unit/test_sniff.py"],
    f"{SERVICE}/agent_service/llm/client.py": [
        "tests/unit/test_llm_waits.py",
        "tests/integration/test_llm_client.py",
        "tests/integration/test_llm_failures.py",
    ],
}

SWAPS: dict[type[ast.AST], type[ast.AST]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.And: ast.Or,
    ast.Or: ast.And,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.Mult,
}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int  # the n-th mutation site of the module, in walk order
    line: int
    description: str


def _annotation_ids(tree: ast.AST) -> set[int]:
    """Nodes inside annotations and docstrings: changing them changes no behaviour."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        annotations: list[ast.AST | None] = []
        if isinstance(node, ast.AnnAssign | ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        for annotation in annotations:
            if annotation is not None:
                skipped.update(id(n) for n in ast.walk(annotation))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                skipped.add(id(value))
    return skipped


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, int, str]]:
    """Every place one mutation can be made: (node, operator position, description).

    Sites are named by their node, not their operator: CPython shares one instance per operator.
    """
    skipped = _annotation_ids(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    yield node, position, f"{type(op).__name__} -> {SWAPS[type(op)].__name__}"
        elif isinstance(node, ast.BoolOp | ast.BinOp) and type(node.op) in SWAPS:
            yield node, 0, f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, 0, "not removed"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield node, 0, f"{node.value} -> {not node.value}"
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            yield node, 0, f"{node.value!r} -> {node.value + 1!r}"


def list_mutants(module: str) -> list[Mutant]:
    tree = ast.parse((ROOT / module).read_text())
    found = []
    for index, (node, _, description) in enumerate(_sites(tree)):
        line = getattr(node, "lineno", 0)
        found.append(Mutant(module, index, line, description))
    return found


class _Apply(ast.NodeTransformer):
    """Makes the mutation at site `index` (walk order), leaving the rest of the tree as it was."""

    def __init__(self, index: int, tree: ast.AST) -> None:
        self.target, self.position, _ = list(_sites(tree))[index]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        if node is not self.target:
            return node
        if isinstance(node, ast.Compare):
            ops = list(node.ops)
            ops[self.position] = SWAPS[type(ops[self.position])]()
            node.ops = ops
        elif isinstance(node, ast.BoolOp | ast.BinOp):
            node.op = SWAPS[type(node.op)]()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            value = node.value
            return ast.Constant(not value if isinstance(value, bool) else value + 1)
        return node


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.module).read_text())
    new_tree = _Apply(mutant.index, tree).visit(tree)
    return ast.unparse(ast.fix_missing_locations(new_tree))


class Sandbox:
    """A copy of both packages' sources, put first on PYTHONPATH; one per parallel worker."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="mutation-"))
        for src in (SERVICE, KIT):
            shutil.copytree(
                ROOT / src, self.directory / src, ignore=shutil.ignore_patterns("__pycache__")
            )
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(self.directory / s) for s in (SERVICE, KIT)),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.env.pop("TEST_DATABASE_URL", None)

    def run_tests(self, tests: list[str], mutant: Mutant | None) -> bool:
        """True when the tests pass (with the mutant in place, if one is given)."""
        target = self.directory / mutant.module if mutant else None
        original = target.read_text() if target else ""
        if target and mutant:
            target.write_text(mutated_source(mutant))
        try:
            existing = [t for t in tests if (ROOT / t).exists()]
            command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
            command += ["--timeout", "60", "-W", "ignore", *existing]
            result = subprocess.run(
                command, cwd=ROOT, env=self.env, capture_output=True, check=False
            )
            return result.returncode == 0
        finally:
            if target:
                target.write_text(original)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _score_module(
    module: str, sandboxes: list[Sandbox], free: list[Sandbox], lock: threading.Lock
) -> tuple[int, list[Mutant]]:
    """The number of mutants of one module and those its tests let through."""
    tests = TARGETS[module]
    if not sandboxes[0].run_tests(tests, None):
        sys.exit(f"the tests of {module} fail without any mutant: fix them first")
    mutants = list_mutants(module)
    survivors: list[Mutant] = []
    done = 0

    def check(mutant: Mutant) -> None:
        nonlocal done
        with lock:
            sandbox = free.pop()
        try:
            killed = not sandbox.run_tests(tests, mutant)
        finally:
            with lock:
                free.append(sandbox)
                done += 1
                if not killed:
                    survivors.append(mutant)
                print(f"\r{module.rsplit('/', 1)[-1]}: {done}/{len(mutants)}", end="", flush=True)

    with ThreadPoolExecutor(len(sandboxes)) as pool:
        list(pool.map(check, mutants))
    print()
    return len(mutants), sorted(survivors, key=lambda m: m.line)


def score(modules: list[str], workers: int) -> dict[str, tuple[int, list[Mutant]]]:
    """Per module: the number of mutants and the survivors."""
    sandboxes = [Sandbox() for _ in range(workers)]
    free = list(sandboxes)
    lock = threading.Lock()
    try:
        return {module: _score_module(module, sandboxes, free, lock) for module in modules}
    finally:
        for sandbox in sandboxes:
            sandbox.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("words", nargs="*", help="only modules whose path contains one of these")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threshold", type=float, default=90.0, help="minimum score, percent")
    args = parser.parse_args()
    modules = [m for m in TARGETS if not args.words or any(w in m for w in args.words)]
    started = time.perf_counter()
    results = score(modules, args.workers)
    failed = False
    print(f"\n{'module':<48} {'mutants':>7} {'killed':>7} {'score':>6}")
    for module, (total, survivors) in results.items():
        percent = 100.0 * (total - len(survivors)) / total if total else 100.0
        failed |= percent < args.threshold
        name = module.split("/src/", 1)[-1]
        print(f"{name:<48} {total:>7} {total - len(survivors):>7} {percent:>5.0f}%")
        for mutant in survivors:
            print(f"    survived: line {mutant.line}: {mutant.description}")
    print(f"\n{time.perf_counter() - started:.0f} s; threshold {args.threshold:.0f}%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
