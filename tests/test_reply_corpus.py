"""The claims classifier against a labeled corpus of replies, written the many ways agents and
people write them (``tests/data/replies.jsonl``: 471 replies, each with what it claims per
intent: done, failed, pending, escalated, silent, or ambiguous to a careful reader).

Precision over recall: a confident reading that is wrong is the worst thing chaoskit can
output, a false "your agent lied". The goal (open work, issue 13) is no confidently wrong
reading and under 10% ``unknown``. Today's rule-based classifier is far from it, so these
tests hold the line where it stands, counted below: any change that reads more replies
confidently wrong, or fewer confidently right, fails; a change that improves it must move
the baselines. The confusion matrix is printed (``pytest -s``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from chaoskit.invariants.claims import classify

CORPUS = Path(__file__).parent / "data" / "replies.jsonl"

#: The classifier's outcomes in the corpus's words.
AS_LABEL = {
    "success": "done",
    "failure": "failed",
    "pending_approval": "pending",
    "escalation": "escalated",
    "not_mentioned": "silent",
    "ambiguous": "unknown",
}
#: Measured with this corpus on the classifier as it is; lower them as it improves.
BASELINE_WRONG = 62
BASELINE_CLAIMED_DONE_WRONGLY = 20
#: Labels read confidently and rightly (the rest are wrong or unknown).
BASELINE_RIGHT = 338


def _corpus() -> list[dict[str, object]]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def _judged() -> list[tuple[str, str, str, str]]:
    """(reply, intent, label, what the classifier says) for every label of the corpus."""
    rows = []
    for item in _corpus():
        claims = classify(str(item["reply"]))
        labels = item["labels"]
        assert isinstance(labels, dict)
        for intent, label in labels.items():
            rows.append((str(item["reply"]), intent, label, AS_LABEL[claims.about(intent).outcome]))
    return rows


def _wrong(rows: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    return [row for row in rows if row[3] != "unknown" and row[3] != row[2]]


def test_the_corpus_is_large_and_varied() -> None:
    items = _corpus()
    assert len(items) >= 400
    intents = Counter(i for item in items for i in item["labels"])  # type: ignore[union-attr]
    assert all(intents[i] >= 30 for i in ("refund", "ticket", "email", "charge", "order")), intents
    assert len({item["reply"] for item in items}) == len(items)  # no duplicates


def test_confidently_wrong_readings_do_not_grow(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _judged()
    matrix = Counter((label, said) for _, _, label, said in rows)
    said_kinds = sorted({said for *_, said in rows})
    wrong = _wrong(rows)
    with capsys.disabled():
        print(f"\nclaims classifier on {len(rows)} labels (rows: label, columns: read as)")
        print(" " * 11 + "".join(f"{s:>10}" for s in said_kinds))
        for label in sorted({label for _, _, label, _ in rows}):
            print(f"{label:>11}" + "".join(f"{matrix[(label, s)]:>10}" for s in said_kinds))
        print(f"confidently wrong: {len(wrong)} (baseline {BASELINE_WRONG})")
    assert len(wrong) <= BASELINE_WRONG, "\n".join(
        f"{r[1]}: {r[2]} read {r[3]}: {r[0]!r}" for r in wrong
    )


def test_replies_wrongly_read_as_done_do_not_grow() -> None:
    """The readings that make a false "you lied": done, when the reply says it was not."""
    claimed = [row for row in _wrong(_judged()) if row[3] == "done"]
    assert len(claimed) <= BASELINE_CLAIMED_DONE_WRONGLY, "\n".join(
        f"{r[1]}: {r[2]} read as done: {r[0]!r}" for r in claimed
    )


def test_replies_read_rightly_with_certainty_do_not_shrink() -> None:
    """A wrong reading may turn into ``unknown`` (that is progress); a right one may not."""
    rows = _judged()
    right = sum(said == label for _, _, label, said in rows)
    unknown = sum(said == "unknown" for *_, said in rows)
    assert right >= BASELINE_RIGHT, f"{right} right, {unknown} unknown of {len(rows)} labels"
