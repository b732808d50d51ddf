from __future__ import annotations

import math
import threading
from typing import Any

import httpx
import pytest

from chaoskit.core.clock import VirtualClock
from chaoskit.core.errors import WorldError
from chaoskit.fakes.approvals import Approvals
from chaoskit.fakes.emails import Email

MESSAGE = {"to": "ada@acme.test", "subject": "Refund issued", "body": "It is on its way."}
REQUEST = {
    "action": "refund",
    "amount": 120000,
    "currency": "usd",
    "reason": "damaged goods",
    "requested_by": "usr_dana",
}


def client(fake: Email | Approvals, host: str) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake.serve), base_url=f"https://{host}")


# -- email ------------------------------------------------------------------------------------


@pytest.fixture
def mail() -> Email:
    fake = Email()
    fake.bind(clock=VirtualClock(), seed=1)
    return fake


def send(fake: Email, **body: Any) -> httpx.Response:
    return client(fake, "mail.chaoskit.test").post("/v1/messages", json=body)


def test_a_sent_message_is_recorded_with_to_subject_and_template(mail: Email) -> None:
    response = send(mail, **MESSAGE, template="refund_confirmation")
    assert response.status_code == 202
    message = response.json()
    assert message["status"] == "sent"
    (entry,) = mail.ledger.entries("email.sent")
    assert entry.object_id == message["id"]
    assert entry.fields == {
        "to": "ada@acme.test",
        "subject": "Refund issued",
        "template": "refund_confirmation",
        "contact_id": None,
        "body": "It is on its way.",
    }


def test_a_contact_id_is_resolved_through_the_directory(mail: Email) -> None:
    mail.add_recipient("cont_ada", email="ada@acme.test")
    response = send(mail, contact_id="cont_ada", subject="Hi", body="Hello")
    assert response.status_code == 202
    (entry,) = mail.ledger.entries("email.sent")
    assert (entry.fields["to"], entry.fields["contact_id"]) == ("ada@acme.test", "cont_ada")


def test_an_unknown_contact_id_is_a_404_and_sends_nothing(mail: Email) -> None:
    response = send(mail, contact_id="cont_nope", subject="Hi", body="Hello")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "contact_id"
    assert len(mail.ledger) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"subject": "Hi", "body": "Hello"},
        {"to": "a@acme.test", "contact_id": "cont_ada", "subject": "Hi", "body": "Hello"},
        {"to": "not-an-address", "subject": "Hi", "body": "Hello"},
        {"to": "a@acme.test", "body": "Hello"},
        {"to": "a@acme.test", "subject": "Hi"},
    ],
)
def test_a_message_that_cannot_be_sent_is_a_400_and_sends_nothing(
    mail: Email, body: dict[str, str]
) -> None:
    mail.add_recipient("cont_ada", email="ada@acme.test")
    response = send(mail, **body)
    assert response.status_code == 400
    assert len(mail.ledger) == 0


def test_a_template_stands_in_for_the_body(mail: Email) -> None:
    response = send(mail, to="a@acme.test", subject="Hi", template="welcome")
    assert response.status_code == 202
    assert mail.ledger.entries("email.sent")[0].fields["body"] == ""


def test_the_outbox_lists_messages_and_filters_by_recipient(mail: Email) -> None:
    send(mail, **MESSAGE)
    send(mail, **{**MESSAGE, "to": "bob@acme.test"})
    http = client(mail, "mail.chaoskit.test")
    assert len(http.get("/v1/messages").json()["data"]) == 2
    only_bob = http.get("/v1/messages", params={"to": "bob@acme.test"}).json()["data"]
    assert [m["to"] for m in only_bob] == ["bob@acme.test"]
    assert http.get(f"/v1/messages/{only_bob[0]['id']}").json() == only_bob[0]


def test_a_registered_token_is_the_principal_of_a_sent_message(mail: Email) -> None:
    mail.add_token("tok_dana", "usr_dana")
    http = client(mail, "mail.chaoskit.test")
    http.post("/v1/messages", json=MESSAGE, headers={"Authorization": "Bearer tok_dana"})
    assert mail.ledger.entries("email.sent")[0].principal == "usr_dana"


def test_a_bad_recipient_address_in_the_directory_is_refused_when_seeding(mail: Email) -> None:
    with pytest.raises(WorldError, match=r"^chaoskit: 'nope' is not an email address"):
        mail.add_recipient("cont_x", email="nope")


def test_eight_threads_sending_at_once_get_one_entry_and_one_id_each(mail: Email) -> None:
    per_thread, threads = 25, 8
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            assert send(mail, **MESSAGE).status_code == 202

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    entries = mail.ledger.entries("email.sent")
    assert len(entries) == per_thread * threads
    assert len({e.object_id for e in entries}) == per_thread * threads


# -- approvals --------------------------------------------------------------------------------


def approvals(reviewer: Any, decision_after: float) -> tuple[Approvals, VirtualClock]:
    clock = VirtualClock()
    fake = Approvals(reviewer=reviewer, decision_after=decision_after)
    fake.bind(clock=clock, seed=2)
    return fake, clock


def file_request(fake: Approvals) -> str:
    response = client(fake, "approvals.chaoskit.test").post("/v1/approvals", json=REQUEST)
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    approval_id: str = response.json()["id"]
    return approval_id


def poll(fake: Approvals, approval_id: str) -> dict[str, Any]:
    response = client(fake, "approvals.chaoskit.test").get(f"/v1/approvals/{approval_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_requesting_an_approval_records_what_was_asked() -> None:
    fake, _ = approvals("approve", 30)
    approval_id = file_request(fake)
    (entry,) = fake.ledger.entries("approval.requested")
    assert entry.object_id == approval_id
    assert {k: entry.fields[k] for k in REQUEST} == REQUEST


def test_an_approving_reviewer_decides_once_its_virtual_time_has_come() -> None:
    fake, clock = approvals("approve", 30)
    clock.advance(10)
    approval_id = file_request(fake)
    clock.advance(29.5)
    assert poll(fake, approval_id)["status"] == "pending"
    assert fake.ledger.entries("approval.decided") == ()
    clock.advance(0.5)
    decided = poll(fake, approval_id)
    assert (decided["status"], decided["decided_at"]) == ("approved", 40.0)
    (entry,) = fake.ledger.entries("approval.decided")
    assert entry.fields["decision"] == "approved"
    assert entry.fields["amount"] == 120000
    assert entry.at == 40.0


def test_the_decision_is_stamped_when_the_agent_could_first_see_it() -> None:
    fake, clock = approvals("approve", 5)
    approval_id = file_request(fake)
    clock.advance(100)
    poll(fake, approval_id)
    (entry,) = fake.ledger.entries("approval.decided")
    assert (entry.at, entry.fields["decided_at"]) == (100.0, 5.0)


def test_a_denying_reviewer_denies_and_polling_again_records_nothing_more() -> None:
    fake, clock = approvals("deny", 0)
    approval_id = file_request(fake)
    assert poll(fake, approval_id)["status"] == "denied"
    clock.advance(3600)
    assert poll(fake, approval_id)["status"] == "denied"
    (entry,) = fake.ledger.entries("approval.decided")
    assert entry.fields["decision"] == "denied"


def test_a_stale_read_never_makes_the_reviewer_decide_twice() -> None:
    fake, _ = approvals("approve", 0)
    fake.keep_history = True
    approval_id = file_request(fake)
    file_request(fake)  # the snapshot kept before this write still holds the first request
    with fake.stale(1) as lagging:
        assert poll(fake, approval_id)["status"] == "approved"
    assert lagging
    assert poll(fake, approval_id)["status"] == "approved"
    assert len(fake.ledger.entries("approval.decided")) == 1


def test_a_reviewer_that_never_answers_leaves_the_request_pending_forever() -> None:
    fake, clock = approvals("never", 0)
    approval_id = file_request(fake)
    clock.advance(30 * 24 * 3600)
    assert poll(fake, approval_id)["status"] == "pending"
    assert fake.ledger.entries("approval.decided") == ()


def test_listing_approvals_lets_due_decisions_happen_and_filters_by_status() -> None:
    fake, clock = approvals("approve", 60)
    first = file_request(fake)
    clock.advance(60)
    second = file_request(fake)
    http = client(fake, "approvals.chaoskit.test")
    approved = http.get("/v1/approvals", params={"status": "approved"}).json()["data"]
    pending = http.get("/v1/approvals", params={"status": "pending"}).json()["data"]
    assert ([a["id"] for a in approved], [a["id"] for a in pending]) == ([first], [second])


def test_the_reviewer_can_be_reconfigured_between_examples() -> None:
    fake, _ = approvals("approve", 0)
    fake.configure(reviewer="deny", decision_after=0)
    assert poll(fake, file_request(fake))["status"] == "denied"


def test_an_unknown_approval_is_a_404() -> None:
    fake, _ = approvals("approve", 0)
    response = client(fake, "approvals.chaoskit.test").get("/v1/approvals/apr_nope")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("field", "value"), [("amount", 0), ("amount", "100"), ("currency", "us"), ("action", "")]
)
def test_an_invalid_approval_request_is_a_400_naming_the_field(field: str, value: Any) -> None:
    fake, _ = approvals("approve", 0)
    response = client(fake, "approvals.chaoskit.test").post(
        "/v1/approvals", json={**REQUEST, field: value}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field
    assert len(fake.ledger) == 0


@pytest.mark.parametrize(
    ("reviewer", "decision_after", "message"),
    [
        ("maybe", 0, r"^chaoskit: unknown approvals reviewer 'maybe'; use one of approve"),
        ("approve", -1, r"^chaoskit: decision_after must be >= 0"),
        ("approve", math.nan, r"^chaoskit: decision_after must be >= 0"),
    ],
)
def test_a_badly_scripted_reviewer_is_refused_eagerly(
    reviewer: Any, decision_after: float, message: str
) -> None:
    with pytest.raises(WorldError, match=message):
        Approvals(reviewer=reviewer, decision_after=decision_after)
