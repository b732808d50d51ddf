from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from chaoskit.core.clock import VirtualClock
from chaoskit.fakes.ticketing import Ticketing

TICKET = {
    "subject": "Refund for order ord_1",
    "body": "Customer asked for a refund.",
    "requester": "ada@acme.test",
    "external_id": "refund-ord_1",
}


@pytest.fixture
def tickets() -> Ticketing:
    fake = Ticketing()
    fake.bind(clock=VirtualClock(), seed=5)
    return fake


def client(fake: Ticketing, token: str | None = None) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(
        transport=httpx.MockTransport(fake.serve),
        base_url="https://tickets.chaoskit.test",
        headers=headers,
    )


def create(http: httpx.Client, **overrides: Any) -> httpx.Response:
    return http.post("/v1/tickets", json={**TICKET, **overrides})


def test_creating_a_ticket_records_its_subject_requester_and_external_id(
    tickets: Ticketing,
) -> None:
    response = create(client(tickets), priority="high")
    assert response.status_code == 201
    ticket = response.json()
    assert (ticket["status"], ticket["priority"]) == ("new", "high")
    (entry,) = tickets.ledger.entries("ticket.created")
    assert entry.object_id == ticket["id"]
    assert entry.fields["subject"] == TICKET["subject"]
    assert entry.fields["requester"] == TICKET["requester"]
    assert entry.fields["external_id"] == "refund-ord_1"
    assert entry.fields["body"] == TICKET["body"]
    assert entry.principal is None


def test_a_careful_client_can_dedupe_by_external_id(tickets: Ticketing) -> None:
    http = client(tickets)
    first = create(http).json()
    create(http, external_id="something-else")
    found = http.get("/v1/tickets", params={"external_id": "refund-ord_1"}).json()["data"]
    assert [t["id"] for t in found] == [first["id"]]
    assert http.get("/v1/tickets", params={"external_id": "nope"}).json()["data"] == []


def test_the_same_external_id_twice_is_not_refused(tickets: Ticketing) -> None:
    http = client(tickets)
    assert create(http).status_code == create(http).status_code == 201
    assert len(tickets.ledger.entries("ticket.created")) == 2


def test_a_repeated_post_with_the_same_idempotency_key_creates_two_tickets(
    tickets: Ticketing,
) -> None:
    http = client(tickets)
    headers = {"Idempotency-Key": "k-1"}
    first = http.post("/v1/tickets", json=TICKET, headers=headers).json()
    second = http.post("/v1/tickets", json=TICKET, headers=headers).json()
    assert first["id"] != second["id"]
    entries = tickets.ledger.entries("ticket.created")
    assert len(entries) == 2
    assert {e.idempotency_key for e in entries} == {None}


@pytest.mark.parametrize("missing", ["subject", "body", "requester"])
def test_a_ticket_without_a_required_field_is_a_400_naming_it(
    tickets: Ticketing, missing: str
) -> None:
    body = {k: v for k, v in TICKET.items() if k != missing}
    response = client(tickets).post("/v1/tickets", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": f"Missing required param: {missing}.",
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "param": missing,
    }
    assert len(tickets.ledger) == 0


def test_an_unknown_priority_is_a_400_listing_the_choices(tickets: Ticketing) -> None:
    response = create(client(tickets), priority="asap")
    assert response.status_code == 400
    assert "low, normal, high, urgent" in response.json()["error"]["message"]


def test_comments_are_created_listed_and_recorded(tickets: Ticketing) -> None:
    http = client(tickets)
    ticket_id = create(http).json()["id"]
    response = http.post(f"/v1/tickets/{ticket_id}/comments", json={"body": "Refund issued."})
    assert response.status_code == 201
    listed = http.get(f"/v1/tickets/{ticket_id}/comments").json()["data"]
    assert [c["body"] for c in listed] == ["Refund issued."]
    (entry,) = tickets.ledger.entries("comment.created")
    assert entry.fields == {
        "ticket": ticket_id,
        "body": "Refund issued.",
        "author": None,
        "public": True,
    }


def test_a_comment_on_an_unknown_ticket_is_a_404(tickets: Ticketing) -> None:
    response = client(tickets).post("/v1/tickets/tkt_nope/comments", json={"body": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
    assert len(tickets.ledger) == 0


def test_a_status_change_records_the_previous_and_new_status(tickets: Ticketing) -> None:
    http = client(tickets)
    ticket_id = create(http).json()["id"]
    assert http.patch(f"/v1/tickets/{ticket_id}", json={"status": "solved"}).status_code == 200
    (entry,) = tickets.ledger.entries("ticket.status_changed")
    assert entry.object_id == ticket_id
    assert entry.fields == {"previous_status": "new", "status": "solved"}
    assert http.get(f"/v1/tickets/{ticket_id}").json()["status"] == "solved"


def test_setting_the_status_a_ticket_already_has_records_nothing(tickets: Ticketing) -> None:
    http = client(tickets)
    ticket_id = create(http).json()["id"]
    assert http.patch(f"/v1/tickets/{ticket_id}", json={"status": "new"}).status_code == 200
    assert tickets.ledger.entries("ticket.status_changed") == ()


def test_a_closed_ticket_cannot_change_status(tickets: Ticketing) -> None:
    http = client(tickets)
    ticket_id = create(http).json()["id"]
    http.patch(f"/v1/tickets/{ticket_id}", json={"status": "closed"})
    response = http.patch(f"/v1/tickets/{ticket_id}", json={"status": "open"})
    assert response.status_code == 409
    assert len(tickets.ledger.entries("ticket.status_changed")) == 1


def test_an_unknown_status_is_a_400(tickets: Ticketing) -> None:
    http = client(tickets)
    ticket_id = create(http).json()["id"]
    response = http.patch(f"/v1/tickets/{ticket_id}", json={"status": "done"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "status"


def test_without_registered_tokens_any_bearer_is_anonymous(tickets: Ticketing) -> None:
    create(client(tickets, token="whatever"))
    (entry,) = tickets.ledger.entries()
    assert entry.principal is None


def test_a_registered_token_names_the_principal_of_every_entry(tickets: Ticketing) -> None:
    tickets.add_token("tok_dana", "usr_dana")
    http = client(tickets, token="tok_dana")
    ticket_id = create(http).json()["id"]
    http.post(f"/v1/tickets/{ticket_id}/comments", json={"body": "On it."})
    assert [e.principal for e in tickets.ledger] == ["usr_dana", "usr_dana"]
    assert tickets.ledger.entries("comment.created")[0].fields["author"] == "usr_dana"
    assert tickets.ledger.entries("ticket.created")[0].fields["created_by"] == "usr_dana"


def test_an_unknown_token_is_refused_once_tokens_are_registered(tickets: Ticketing) -> None:
    tickets.add_token("tok_dana", "usr_dana")
    response = create(client(tickets, token="tok_mallory"))
    assert response.status_code == 401
    assert len(tickets.ledger) == 0
    # No token at all is still allowed: the bearer is optional here.
    assert create(client(tickets)).status_code == 201


def test_rebinding_forgets_tokens_and_tickets(tickets: Ticketing) -> None:
    tickets.add_token("tok_dana", "usr_dana")
    create(client(tickets, token="tok_dana"))
    tickets.bind(clock=VirtualClock(), seed=5)
    assert tickets.tokens == {}
    assert client(tickets).get("/v1/tickets").json()["data"] == []


def test_same_seed_same_ticket_ids(tickets: Ticketing) -> None:
    first = create(client(tickets)).json()["id"]
    tickets.bind(clock=VirtualClock(), seed=5)
    assert create(client(tickets)).json()["id"] == first


def test_eight_threads_creating_tickets_at_once_get_one_entry_and_one_id_each(
    tickets: Ticketing,
) -> None:
    per_thread, threads = 25, 8
    barrier = threading.Barrier(threads)

    def work() -> None:
        http = client(tickets)
        barrier.wait()
        for i in range(per_thread):
            assert create(http, external_id=f"x{i}").status_code == 201

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    entries = tickets.ledger.entries("ticket.created")
    assert len(entries) == per_thread * threads
    assert len({e.object_id for e in entries}) == per_thread * threads
    listed = client(tickets).get("/v1/tickets").json()["data"]
    assert len(listed) == per_thread * threads
