"""The model's side of a case, by `--model`:

- `scripted`: the case's `script` (and `judge`) played by the kit's fake LLM, one fake per case on
  its own base URL, so cases run at once;
- `replay`: the case's cassette (recorded by `--model live --record`) replayed offline; the app is
  pointed at the base URL and model the cassette recorded;
- `live`: the configured provider (`LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL`), optionally
  recorded into the case's cassette.

The judge of `llm_judge` graders uses the same side: the case's `judge` script, the cassette, or the
live model. Cassettes answer from the newest one active whatever the URL, so replaying and recording
run one case at a time.

With `--epochs N` each case runs N times. Live, every epoch asks the model again; replayed, every
epoch replays the same cassette; scripted, a seeded `Variation` makes some epochs' final replies
vague, so the statistics of repeated runs can be exercised offline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from agent_service.evals.sandbox import LLMEndpoint
from agent_testkit.cassettes import Cassette, CassetteError, load_cassette, use_cassette
from agent_testkit.evals import (
    JUDGE_SYSTEM_PROMPT,
    Case,
    LLMJudge,
    PlaceholderError,
    script_items,
    vary_script,
)
from agent_testkit.fake_llm import FakeLLM
from agent_testkit.fake_llm.interception import Interception, install, uninstall

SCRIPTED_TIMEOUT_S = 5.0  # a scripted `timeout` hangs until this read timeout (a loaded CI
# machine can take over a second to answer a scripted call: a retry would then desync the script)
REPLAY_API_KEY = "sk-replay"  # cassettes are scrubbed: any key replays
# Chat requests are matched without their messages: the tool results in them carry ids and times
# that are new on every run, so a case's calls are replayed in their recorded order instead (each
# call still has to ask for the same model, tools and response format). The judge's calls differ
# from the agent's by those, so each gets its own.
REPLAY_CHAT_MATCH_ON = ("model", "tools", "tool_choice", "response_format", "stream")


class ModelMode(StrEnum):
    SCRIPTED = "scripted"
    REPLAY = "replay"
    LIVE = "live"


@dataclass(frozen=True)
class Variation:
    """The scripted model's variation for one attempt: the chance its final reply comes out vague,
    and the seed (run seed, case, epoch) that decides it."""

    rate: float = 0.0
    seed: str = ""

    def apply(self, entries: tuple[Any, ...]) -> list[Any]:
        if not self.rate:
            return list(entries)
        return vary_script(entries, random.Random(self.seed), self.rate)  # noqa: S311 - not secret


def judge_description(mode: ModelMode, live: LLMEndpoint | None) -> dict[str, str]:
    """What the report says about the judge of `llm_judge` graders: its model and its prompt."""
    if mode is ModelMode.SCRIPTED:
        model = "fake-judge (scripted verdicts from each case's `judge:`)"
    elif mode is ModelMode.REPLAY:
        model = "the model recorded in each case's cassette"
    else:
        model = live.model if live is not None else "the configured LLM_MODEL"
    return {"model": model, "system_prompt": JUDGE_SYSTEM_PROMPT}


class ModelSide:
    """Used as `async with side:` around a case; `prepare(variables)` once its data exists."""

    endpoint: LLMEndpoint
    judge: LLMJudge | None = None
    offline = False  # no real model: the app's retry waits need not be slept

    def prepare(self, variables: dict[str, str]) -> list[str]:
        """Script what needs the case's ids; problems found doing so."""
        return []

    def problems(self) -> list[str]:
        return []

    def llm_calls(self) -> int:
        return 0

    async def __aenter__(self) -> ModelSide:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def scripted_endpoint(slot: int) -> LLMEndpoint:
    """The fake model of slot `slot`: cases running at once each have their own base URL."""
    return LLMEndpoint(
        f"http://slot-{slot}.fake-llm.test/v1", "sk-eval", "fake-model", SCRIPTED_TIMEOUT_S
    )


class ScriptedSide(ModelSide):
    offline = True

    def __init__(
        self,
        case: Case,
        slot: int,
        *,
        judge_client: httpx.AsyncClient | None = None,
        variation: Variation | None = None,
    ) -> None:
        self.case = case
        self.variation = variation or Variation()
        self.endpoint = scripted_endpoint(slot)
        self.fake = FakeLLM(base_url=self.endpoint.base_url)
        self.judge_fake = FakeLLM(base_url=f"http://judge-{slot}.fake-llm.test/v1")
        self.judge = LLMJudge(
            base_url=self.judge_fake.base_url,
            api_key="sk-eval",
            model="fake-judge",
            http_client=judge_client,
        )
        self._installed: list[Interception] = []

    def prepare(self, variables: dict[str, str]) -> list[str]:
        try:
            self.fake.script(*script_items(self.variation.apply(self.case.script), variables))
            self.judge_fake.script(*script_items(self.case.judge, variables))
        except (PlaceholderError, ValueError, KeyError, TypeError) as exc:
            return [f"the case's script cannot be built: {exc}"]
        return []

    def problems(self) -> list[str]:
        return self.fake.problems() + [f"judge: {p}" for p in self.judge_fake.problems()]

    def llm_calls(self) -> int:
        return len(self.fake.calls)

    async def __aenter__(self) -> ScriptedSide:
        self._installed = [install(self.fake), install(self.judge_fake)]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for interception in self._installed:
            uninstall(interception)


def recorded_endpoint(path: Path) -> tuple[str, str]:
    """The base URL and model of a cassette's first chat completion."""
    for interaction in load_cassette(path).interactions:
        url = interaction.request.url
        if url.endswith("/chat/completions"):
            body: Any = interaction.request.body.json or {}
            return url.removesuffix("/chat/completions"), str(body.get("model", ""))
    raise CassetteError(f"cassette {str(path)!r} has no chat completion to replay")


class CassetteSide(ModelSide):
    """Replays (`record=False`) or records (`record=True`, against `live`) the case's cassette."""

    def __init__(
        self,
        path: Path,
        *,
        live: LLMEndpoint | None = None,
        judge_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.path = path
        self.offline = live is None
        self.cassette: Cassette | None = None
        self._problems: list[str] = []
        self.live = live
        if live is not None:
            self.endpoint = live
        else:
            try:
                base_url, model = recorded_endpoint(path)
            except (OSError, CassetteError) as exc:
                base_url, model = "http://no-cassette.invalid/v1", "none"
                self._problems.append(
                    f"cannot replay: {exc}. Record it with `agent-service eval run --model live --record`."
                )
            self.endpoint = LLMEndpoint(base_url, REPLAY_API_KEY, model)
        self.judge = LLMJudge(
            base_url=self.endpoint.base_url,
            api_key=self.endpoint.api_key,
            model=self.endpoint.model,
        )

    def problems(self) -> list[str]:
        return self._problems + (self.cassette.problems() if self.cassette else [])

    async def __aenter__(self) -> CassetteSide:
        if self._problems:
            return self
        mode = "all" if self.live is not None else "none"
        try:
            self.cassette = use_cassette(
                self.path, record_mode=mode, chat_match_on=REPLAY_CHAT_MATCH_ON
            ).start()
        except CassetteError as exc:
            self._problems.append(str(exc))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.cassette is not None:
            self.cassette.stop()


class LiveSide(ModelSide):
    def __init__(self, live: LLMEndpoint, *, judge_client: httpx.AsyncClient | None = None) -> None:
        self.endpoint = live
        self.judge = LLMJudge(
            base_url=live.base_url,
            api_key=live.api_key,
            model=live.model,
            timeout_s=live.timeout_s,
            http_client=judge_client,
        )


def model_side(
    mode: ModelMode,
    case: Case,
    slot: int,
    *,
    cassette_dir: Path,
    live: LLMEndpoint | None = None,
    record: bool = False,
    judge_client: httpx.AsyncClient | None = None,
    variation: Variation | None = None,
) -> ModelSide:
    """The side for `case`, running in slot `slot` (0 .. concurrency - 1)."""
    cassette = cassette_dir / (case.cassette or f"{case.id}.yaml")
    if mode is ModelMode.SCRIPTED:
        return ScriptedSide(case, slot, judge_client=judge_client, variation=variation)
    if mode is ModelMode.REPLAY:
        return CassetteSide(cassette, judge_client=judge_client)
    if live is None:
        raise ValueError("--model live needs LLM_BASE_URL, LLM_API_KEY and LLM_MODEL")
    if record:
        return CassetteSide(cassette, live=live, judge_client=judge_client)
    return LiveSide(live, judge_client=judge_client)


def shared_endpoint(
    mode: ModelMode, slot: int, *, live: LLMEndpoint | None, record: bool
) -> LLMEndpoint | None:
    """The endpoint every case of slot `slot` uses, when it does not depend on the case: then one
    app per slot serves all its cases. None: each case needs its own app (cassettes)."""
    if mode is ModelMode.SCRIPTED:
        return scripted_endpoint(slot)
    if mode is ModelMode.LIVE and not record:
        return live
    return None
