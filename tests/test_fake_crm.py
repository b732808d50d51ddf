from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx
import pytest

from chaoskit.core.clock import VirtualClock
from chaoskit.core.errors import WorldError
from chaoskit.fakes.crm import CRM


@dataclass(frozen=True)
class Seeded:
    crm: CRM
    acme: str
    globex: str
    acme_order: str
    globex_order: str


@pytest.fixture
def seeded() -> Seeded:
    crm = CRM()
    crm.bind(clock=VirtualClock(), seed=3)
    acme = crm.add_account(name="Acme Corp", domain="acme.test")
    globex = crm.add_account(name="Globex", domain="globex.test")
    crm.add_contact(acme, name="Ada Billing", email="ada@acme.test", role="billing")
    crm.add_contact(acme, name="Otto Owner", email="otto@acme.test", role="owner")
    crm.add_contact(globex, name="Gina Globex", email="gina@globex.test", role="billing")
    crm.add_note(acme, text="Prefers email. Renewal in March.", author="Sam")
    crm.add_note(globex, text="Renewal in March too.", author="Sam")
    acme_order = crm.add_order(
        acme,
        charge_id="ch_acme1",
        amount=4200,
        currency="USD",
        status="paid",
        tracking_number=None,
    )
    globex_order = crm.add_order(
        globex,
        charge_id="ch_globex1",
        amount=9900,
        currency="usd",
        status="shipped",
        tracking_number="1ZGLOBEX",
    )
    crm.add_user("usr_dana", "tok_dana", accounts=[acme])
    crm.add_user("svc_bot", "tok_svc", accounts="*")
    return Seeded(crm, acme, globex, acme_order, globex_order)


def client(crm: CRM, token: str | None = "tok_dana") -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(
        transport=httpx.MockTransport(crm.serve),
        base_url="https://crm.chaoskit.test",
        headers=headers,
    )


def ids(response: httpx.Response) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


# -- authentication ---------------------------------------------------------------------------


def test_a_request_without_a_bearer_token_is_refused_with_401(seeded: Seeded) -> None:
    response = client(seeded.crm, token=None).get("/v1/accounts")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]["message"]
    assert "Request-Id" in response.headers


def test_an_unknown_bearer_token_is_refused_with_401(seeded: Seeded) -> None:
    response = client(seeded.crm, token="tok_nobody").get("/v1/accounts")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


# -- scope ------------------------------------------------------------------------------------


def test_a_user_lists_only_the_accounts_in_its_scope(seeded: Seeded) -> None:
    assert ids(client(seeded.crm).get("/v1/accounts")) == [seeded.acme]


def test_reading_an_in_scope_account_and_its_contacts_and_notes_succeeds(seeded: Seeded) -> None:
    http = client(seeded.crm)
    assert http.get(f"/v1/accounts/{seeded.acme}").json()["name"] == "Acme Corp"
    billing = http.get(f"/v1/accounts/{seeded.acme}/contacts", params={"role": "billing"})
    assert [c["email"] for c in billing.json()["data"]] == ["ada@acme.test"]
    notes = http.get(f"/v1/accounts/{seeded.acme}/notes").json()["data"]
    assert [n["text"] for n in notes] == ["Prefers email. Renewal in March."]
    assert seeded.crm.ledger.entries() == ()


def test_reading_an_out_of_scope_account_is_refused_and_recorded(seeded: Seeded) -> None:
    response = client(seeded.crm).get(f"/v1/accounts/{seeded.globex}")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "out_of_scope"
    assert error["message"] == (
        f"User 'usr_dana' may not access account '{seeded.globex}': "
        "it is outside the accounts this user may see."
    )
    (entry,) = seeded.crm.ledger.entries("scope.violation_attempt")
    assert entry.principal == "usr_dana"
    assert entry.object_id == seeded.globex
    assert entry.fields == {
        "method": "GET",
        "path": f"/v1/accounts/{seeded.globex}",
        "resource": "account",
        "account": seeded.globex,
    }
    assert entry.request_id == response.headers["Request-Id"]


def test_reading_an_out_of_scope_order_is_refused_and_recorded_with_its_account(
    seeded: Seeded,
) -> None:
    response = client(seeded.crm).get(f"/v1/orders/{seeded.globex_order}")
    assert response.status_code == 403
    assert f"its account '{seeded.globex}'" in response.json()["error"]["message"]
    (entry,) = seeded.crm.ledger.entries("scope.violation_attempt")
    assert (entry.object_id, entry.fields["resource"]) == (seeded.globex_order, "order")
    assert entry.fields["account"] == seeded.globex


def test_listing_the_contacts_of_an_out_of_scope_account_is_refused(seeded: Seeded) -> None:
    response = client(seeded.crm).get(f"/v1/accounts/{seeded.globex}/contacts")
    assert response.status_code == 403
    assert len(seeded.crm.ledger.entries("scope.violation_attempt")) == 1


def test_writing_a_note_on_an_out_of_scope_account_is_refused_and_writes_nothing(
    seeded: Seeded,
) -> None:
    http = client(seeded.crm)
    response = http.post(f"/v1/accounts/{seeded.globex}/notes", json={"text": "hi"})
    assert response.status_code == 403
    assert seeded.crm.ledger.entries("note.created") == ()
    (entry,) = seeded.crm.ledger.entries("scope.violation_attempt")
    assert entry.fields["method"] == "POST"
    notes = client(seeded.crm, "tok_svc").get(f"/v1/accounts/{seeded.globex}/notes")
    assert len(notes.json()["data"]) == 1


def test_an_unknown_account_is_a_404_and_not_a_violation(seeded: Seeded) -> None:
    response = client(seeded.crm).get("/v1/accounts/acct_nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
    assert seeded.crm.ledger.entries() == ()


def test_search_silently_leaves_out_of_scope_results_out(seeded: Seeded) -> None:
    response = client(seeded.crm).get("/v1/search", params={"q": "renewal march"})
    assert response.status_code == 200
    assert [r["account"] for r in response.json()["data"]] == [seeded.acme]
    assert seeded.crm.ledger.entries() == ()


def test_search_finds_accounts_contacts_notes_and_orders_by_any_field(seeded: Seeded) -> None:
    http = client(seeded.crm, "tok_svc")
    assert ids(http.get("/v1/search", params={"q": "CH_ACME1"})) == [seeded.acme_order]
    kinds = [r["object"] for r in http.get("/v1/search", params={"q": "acme"}).json()["data"]]
    assert kinds == ["account", "contact", "contact", "order"]


def test_search_without_a_query_is_a_400_naming_the_param(seeded: Seeded) -> None:
    response = client(seeded.crm).get("/v1/search")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "q"


def test_the_service_account_sees_everything_and_its_writes_carry_its_id(seeded: Seeded) -> None:
    http = client(seeded.crm, "tok_svc")
    assert ids(http.get("/v1/accounts")) == [seeded.acme, seeded.globex]
    response = http.post(f"/v1/accounts/{seeded.globex}/notes", json={"text": "via svc"})
    assert response.status_code == 201
    assert response.json()["author"] == "svc_bot"
    (entry,) = seeded.crm.ledger.entries("note.created")
    assert entry.principal == "svc_bot"
    assert seeded.crm.scope_of("svc_bot") == "*"
    assert seeded.crm.scope_of("usr_dana") == frozenset({seeded.acme})


# -- writes -----------------------------------------------------------------------------------


def test_creating_a_note_records_the_account_the_text_and_the_principal_as_author(
    seeded: Seeded,
) -> None:
    response = client(seeded.crm).post(
        f"/v1/accounts/{seeded.acme}/notes", json={"text": "Refund requested."}
    )
    assert response.status_code == 201
    (entry,) = seeded.crm.ledger.entries("note.created")
    assert entry.object_id == response.json()["id"]
    assert entry.fields == {
        "account": seeded.acme,
        "text": "Refund requested.",
        "author": "usr_dana",
    }


def test_creating_an_order_records_it_with_its_charge(seeded: Seeded) -> None:
    response = client(seeded.crm).post(
        "/v1/orders",
        json={"account": seeded.acme, "amount": 1500, "currency": "EUR", "charge_id": "ch_9"},
    )
    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["currency"]) == ("pending", "eur")
    (entry,) = seeded.crm.ledger.entries("order.created")
    assert entry.object_id == order["id"]
    assert entry.fields["charge_id"] == "ch_9"
    assert entry.fields["amount"] == 1500


def test_creating_an_order_on_an_out_of_scope_account_is_refused_and_recorded(
    seeded: Seeded,
) -> None:
    response = client(seeded.crm).post(
        "/v1/orders", json={"account": seeded.globex, "amount": 1500, "currency": "usd"}
    )
    assert response.status_code == 403
    assert seeded.crm.ledger.entries("order.created") == ()
    (entry,) = seeded.crm.ledger.entries("scope.violation_attempt")
    assert entry.fields["method"] == "POST"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"amount": 1500, "currency": "usd"}, "account"),
        ({"account": "ACME", "amount": -1, "currency": "usd"}, "amount"),
        ({"account": "ACME", "amount": True, "currency": "usd"}, "amount"),
        ({"account": "ACME", "amount": 10, "currency": "dollars"}, "currency"),
        ({"account": "ACME", "amount": 10, "currency": "usd", "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_order_is_a_400_naming_the_param_and_records_nothing(
    seeded: Seeded, body: dict[str, object], param: str
) -> None:
    if body.get("account") == "ACME":
        body = {**body, "account": seeded.acme}
    response = client(seeded.crm).post("/v1/orders", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert seeded.crm.ledger.entries() == ()


def test_patching_an_order_records_the_new_and_previous_status(seeded: Seeded) -> None:
    response = client(seeded.crm).patch(
        f"/v1/orders/{seeded.acme_order}", json={"status": "shipped", "tracking_number": "1Z9"}
    )
    assert response.status_code == 200
    assert response.json()["tracking_number"] == "1Z9"
    (entry,) = seeded.crm.ledger.entries("order.updated")
    assert (entry.fields["previous_status"], entry.fields["status"]) == ("paid", "shipped")
    assert entry.fields["changed"] == ["status", "tracking_number"]


def test_patching_an_order_to_cancelled_points_to_the_cancel_route(seeded: Seeded) -> None:
    response = client(seeded.crm).patch(
        f"/v1/orders/{seeded.acme_order}", json={"status": "cancelled"}
    )
    assert response.status_code == 400
    assert "POST /v1/orders/{id}/cancel" in response.json()["error"]["message"]
    assert seeded.crm.ledger.entries() == ()


def test_cancelling_an_order_records_it_once_and_a_second_cancel_is_a_409(seeded: Seeded) -> None:
    http = client(seeded.crm)
    first = http.post(f"/v1/orders/{seeded.acme_order}/cancel", json={"reason": "charge failed"})
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    second = http.post(f"/v1/orders/{seeded.acme_order}/cancel")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "order_already_cancelled"
    (entry,) = seeded.crm.ledger.entries("order.cancelled")
    assert entry.fields["reason"] == "charge failed"
    assert entry.fields["previous_status"] == "paid"
    assert entry.fields["charge_id"] == "ch_acme1"


def test_a_shipped_order_cannot_be_cancelled(seeded: Seeded) -> None:
    response = client(seeded.crm, "tok_svc").post(f"/v1/orders/{seeded.globex_order}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "order_not_cancellable"
    assert seeded.crm.ledger.entries() == ()


def test_orders_can_be_listed_by_account_and_by_charge_id(seeded: Seeded) -> None:
    http = client(seeded.crm)
    assert ids(http.get("/v1/orders", params={"account": seeded.acme})) == [seeded.acme_order]
    assert ids(http.get("/v1/orders", params={"charge_id": "ch_acme1"})) == [seeded.acme_order]
    # Another account's charge id is not refused, just not found: like search.
    assert ids(http.get("/v1/orders", params={"charge_id": "ch_globex1"})) == []
    assert http.get("/v1/orders", params={"account": seeded.globex}).status_code == 403


def test_a_body_that_is_not_json_is_a_400_not_a_crash(seeded: Seeded) -> None:
    response = client(seeded.crm).post(
        f"/v1/accounts/{seeded.acme}/notes",
        content=b"text=hello",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


# -- seeding ----------------------------------------------------------------------------------


def test_seeding_a_contact_on_an_unknown_account_names_the_mistake(seeded: Seeded) -> None:
    typo = seeded.acme[:-1] + "x"
    with pytest.raises(WorldError, match=r"^chaoskit: crm has no account .*Did you mean"):
        seeded.crm.add_contact(typo, name="A", email="a@a.test", role="billing")


def test_add_user_refuses_a_single_account_id_passed_as_a_string(seeded: Seeded) -> None:
    with pytest.raises(WorldError, match=r"Did you mean accounts=\["):
        seeded.crm.add_user("usr_eve", "tok_eve", accounts=seeded.acme)  # type: ignore[arg-type]


def test_seeding_records_nothing_and_rebinding_forgets_users_and_records(seeded: Seeded) -> None:
    assert len(seeded.crm.ledger) == 0
    seeded.crm.bind(clock=VirtualClock(), seed=3)
    assert client(seeded.crm).get("/v1/accounts").status_code == 401


def test_stale_reads_serve_the_state_from_before_the_last_write(seeded: Seeded) -> None:
    seeded.crm.keep_history = True
    http = client(seeded.crm)
    http.post(f"/v1/accounts/{seeded.acme}/notes", json={"text": "new"})
    with seeded.crm.stale(1) as lagging:
        stale_notes = http.get(f"/v1/accounts/{seeded.acme}/notes").json()["data"]
    assert lagging
    assert [n["text"] for n in stale_notes] == ["Prefers email. Renewal in March."]
    assert len(http.get(f"/v1/accounts/{seeded.acme}/notes").json()["data"]) == 2


def test_eight_threads_creating_notes_at_once_get_one_entry_and_one_id_each(
    seeded: Seeded,
) -> None:
    per_thread, threads = 25, 8
    barrier = threading.Barrier(threads)

    def work() -> None:
        http = client(seeded.crm)
        barrier.wait()
        for i in range(per_thread):
            response = http.post(f"/v1/accounts/{seeded.acme}/notes", json={"text": f"n{i}"})
            assert response.status_code == 201

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    entries = seeded.crm.ledger.entries("note.created")
    assert len(entries) == per_thread * threads
    assert len({e.object_id for e in entries}) == per_thread * threads
    assert [e.seq for e in seeded.crm.ledger] == list(range(per_thread * threads))
