"""Contents, index and reference pages are told apart from prose, so retrieval ranks them last,
and the demo quotes a whole sentence rather than an index line."""

from __future__ import annotations

import uuid

from agent_service.demo.words import best_sentence
from agent_service.documents.retrieval import Passage, demote_references, looks_like_reference

INDEX_PAGE = """5 ASN.1 schema . [2]
ASN.1 types, 12, 14
BIT STRING, 7
CHOICE, 9-10
libtasn1, 3
SET OF, 21"""
CONTENTS_PAGE = "Contents\n1 Introduction ........ 1\n2 Usage ........ 4\n3 Limitations ........ 35"
PROSE = (
    "Limitations. The libtasn1 library does not handle the REAL type: a schema that uses it is "
    "refused when it is parsed. Other ASN.1 types are supported."
)


def test_index_and_contents_pages_are_recognised_and_prose_is_not() -> None:
    assert looks_like_reference(INDEX_PAGE)
    assert looks_like_reference(CONTENTS_PAGE)
    assert looks_like_reference("References\n[1] A. Author, A paper, 2001.")
    assert not looks_like_reference(PROSE)
    assert not looks_like_reference("Step 1\nOpen the file.\nStep 2\nRead it.\nDone.")


def test_reference_pages_rank_after_the_pages_that_answer() -> None:
    document = uuid.uuid4()
    index = Passage(uuid.uuid4(), document, 35, INDEX_PAGE, 9.0)
    prose = Passage(uuid.uuid4(), document, 12, PROSE, 1.0)
    assert demote_references([index, prose]) == [prose, index]
    assert demote_references([prose, index]) == [prose, index]


def test_the_quote_is_a_whole_sentence() -> None:
    question = "Which ASN.1 type does libtasn1 not handle?"
    quote = best_sentence(INDEX_PAGE + "\n\n" + PROSE, question)
    assert quote.startswith("The libtasn1 library does not handle the REAL type")
    assert quote.endswith("parsed.")
