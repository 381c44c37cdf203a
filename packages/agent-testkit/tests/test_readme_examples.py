"""The README's examples marked `<!-- readme-example: runs as a test -->` run as a user's test modules, each
in a pytester directory with the plugin, so the documentation cannot drift from what the kit does."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
MARK = "<!-- readme-example: runs as a test -->"
EXAMPLES = re.findall(re.escape(MARK) + r"\n```python\n(.*?)\n```", README.read_text(), re.DOTALL)


def test_the_readme_marks_its_runnable_examples() -> None:
    assert README.read_text().count(MARK) == len(EXAMPLES) >= 4


@pytest.mark.filterwarnings(
    "ignore::DeprecationWarning"
)  # google-genai's aiohttp subclass, if imported
@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"example-{n}" for n in range(1, len(EXAMPLES) + 1)]
)
def test_a_readme_example_passes(user_project: pytest.Pytester, example: str) -> None:
    user_project.makepyfile(test_readme_example=example)
    tests = len(re.findall(r"^(?:async )?def test_", example, re.MULTILINE))
    user_project.runpytest("-q").assert_outcomes(passed=tests)
