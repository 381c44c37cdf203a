"""Record real HTTP traffic once, replay it offline: cassettes that keep stream chunks, scrub secrets,
match chat requests by meaning, expire, and report what they did not use.

pytest: `@pytest.mark.cassette` (or the `cassette` fixture) and `--record-mode`; anywhere else:
`with use_cassette("path.yaml", record_mode="once"): ...`.
"""

from agent_testkit.cassettes.cassette import (
    Cassette,
    CassetteError,
    CassetteExpired,
    CassetteNotFound,
    CassetteProblems,
    use_cassette,
)
from agent_testkit.cassettes.convert import convert_vcr_cassette, split_sse_events
from agent_testkit.cassettes.files import (
    CassetteFile,
    CassetteFormatError,
    load_cassette,
    save_cassette,
)
from agent_testkit.cassettes.matching import DEFAULT_CHAT_MATCH_ON, DEFAULT_MATCH_ON, Matcher
from agent_testkit.cassettes.model import Body, Interaction, RecordedRequest, RecordedResponse
from agent_testkit.cassettes.options import CassetteOptions, RecordMode
from agent_testkit.cassettes.scrub import Scrubber, is_secret_name

__all__ = [
    "DEFAULT_CHAT_MATCH_ON",
    "DEFAULT_MATCH_ON",
    "Body",
    "Cassette",
    "CassetteError",
    "CassetteExpired",
    "CassetteFile",
    "CassetteFormatError",
    "CassetteNotFound",
    "CassetteOptions",
    "CassetteProblems",
    "Interaction",
    "Matcher",
    "RecordMode",
    "RecordedRequest",
    "RecordedResponse",
    "Scrubber",
    "convert_vcr_cassette",
    "is_secret_name",
    "load_cassette",
    "save_cassette",
    "split_sse_events",
    "use_cassette",
]
