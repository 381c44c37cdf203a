"""The judge, measured: Cohen's kappa against a textbook example, and a tiny hand-made labelled set
judged through the real `LLMJudge` against the kit's fake model, with the agreement worked out by
hand: accuracy and kappa per rubric, the disagreements named."""

import textwrap

import pytest

from agent_testkit import FakeLLM
from agent_testkit.evals import CaseFormatError, LLMJudge
from agent_testkit.evals.agreement import agreement, cohen_kappa, judge_all, load_judge_cases


def test_kappa_of_the_textbook_example():
    # 50 items: both yes 20, A yes B no 5, A no B yes 10, both no 15 -> p_o 0.7, p_e 0.5
    pairs = [(True, True)] * 20 + [(True, False)] * 5 + [(False, True)] * 10 + [(False, False)] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([(True, True), (False, False)]) == 1.0
    assert cohen_kappa([(True, False), (False, True)]) == -1.0
    assert cohen_kappa([(True, True)] * 3) is None  # nothing to agree on beyond chance


LABELLED = textwrap.dedent(
    """
    rubrics:
      polite: The reply is polite.
      cites: The reply names the document it used.
    cases:
      - {id: p1, rubric: polite, human: pass, turns: [{user: hi, reply: "Hello! How can I help?"}]}
      - {id: p2, rubric: polite, human: fail, turns: [{user: hi, reply: What now.}]}
      - {id: p3, rubric: polite, human: pass, turns: [{user: thanks, reply: You are welcome.}]}
      - {id: p4, rubric: polite, human: fail, turns: [{user: help, reply: Figure it out.}]}
      - id: c1
        rubric: cites
        human: pass
        turns:
          - user: remote days?
            tool_calls: [{name: search_documents, arguments: {query: remote}, result: {hits: 1}}]
            reply: Two a week, says handbook.md.
      - {id: c2, rubric: cites, human: fail, turns: [{user: "remote days?", reply: Two a week.}]}
    """
)


async def test_agreement_on_a_tiny_hand_made_set(tmp_path, fake_llm: FakeLLM):
    path = tmp_path / "labelled.yaml"
    path.write_text(LABELLED)
    cases = load_judge_cases(path)
    assert [c.id for c in cases] == ["p1", "p2", "p3", "p4", "c1", "c2"]
    # the judge: right on p1, p2, p3, wrong on p4 (passes rudeness), right on c1; its answer for
    # c2 is not JSON at all: no verdict counts as "did not pass", as the person said
    fake_llm.script(
        fake_llm.reply('{"score": 0.9, "reasoning": "Friendly."}'),
        fake_llm.reply('{"score": 0.2, "reasoning": "Curt."}'),
        fake_llm.reply('{"score": 0.8, "reasoning": "Polite."}'),
        fake_llm.reply('{"score": 0.75, "reasoning": "Direct."}'),
        fake_llm.reply('{"score": 1.0, "reasoning": "Names handbook.md."}'),
        fake_llm.reply("It is fine.", unchecked=True),  # not the JSON its response_format asks for
    )
    judge = LLMJudge(base_url=fake_llm.base_url, api_key="sk-test", model="judge-model")
    judged = await judge_all(cases, judge.judge)
    assert "CONVERSATION" in fake_llm.calls[4].last_user_message
    assert "search_documents" in fake_llm.calls[4].last_user_message  # the tool calls are shown
    rows = {row.rubric: row for row in agreement(judged)}
    # polite: 3 of 4 agree; judge passes p1 p3 p4 (3/4), people pass p1 p3 (2/4)
    # p_e = 0.75*0.5 + 0.25*0.5 = 0.5, kappa = (0.75 - 0.5) / 0.5 = 0.5
    assert rows["polite"].accuracy == 0.75 and rows["polite"].kappa == pytest.approx(0.5)
    assert rows["polite"].disagreements == ["p4: person said fail, judge 0.75 (Direct.)"]
    # cites: both agree (c2 has no verdict: not a pass, as the person said) -> kappa 1
    assert rows["cites"].accuracy == 1.0 and rows["cites"].kappa == pytest.approx(1.0)
    # all 6: 5 agree; judge passes 3/6, people 3/6 -> p_e 0.5, kappa (5/6 - 0.5) / 0.5 = 2/3
    assert rows["all"].cases == 6 and rows["all"].kappa == pytest.approx(2 / 3)


def test_a_labelled_set_with_an_unknown_rubric_says_so(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "rubrics: {a: x}\ncases: [{id: one, rubric: b, human: pass, turns: [{user: u, reply: r}]}]"
    )
    with pytest.raises(CaseFormatError, match="unknown rubric 'b'"):
        load_judge_cases(path)
