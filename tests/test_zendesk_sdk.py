"""zenpy, unchanged, and raw REST against the zendesk fake inside a world.

zenpy builds ``https://{subdomain}.zendesk.com/api/v2/…`` itself and sends requests through
a ``requests`` session: the world routes it to the fake, so nothing here changes its base URL.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket, TicketAudit, User
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, RecordNotFoundException

from chaoskit import FaultRule, RateLimit, ServerError, Target, TimeoutAfterCommit, World
from chaoskit.core.agent import Principal, Task
from chaoskit.engine.external import task_document, task_environment
from chaoskit.fakes import Zendesk
from chaoskit.fakes.zendesk import IDEMPOTENCY_TTL
from chaoskit.world.data import WorldData, WorldRecipe, build_world
from chaoskit.world.trace import SleepEvent

TICKETS = "zendesk: POST /api/v2/tickets"
BASE = "https://chaoskit.zendesk.com"


@pytest.fixture(autouse=True)
def _quiet_zenpy(caplog: pytest.LogCaptureFixture) -> None:
    # zenpy logs every Retry-After wait as a warning on the root logger.
    caplog.set_level(logging.ERROR)


@dataclass
class Account:
    """A world with one zendesk fake, seeded like a scenario's, and the acting agent's task."""

    world: World
    fake: Zendesk
    data: WorldData

    @property
    def credential(self) -> dict[str, str]:
        return dict(self.fake.credential(self.data.user.token))  # type: ignore[arg-type]

    def zenpy(self, **options: Any) -> Zenpy:
        return Zenpy(**self.credential, **options)

    def task(self) -> Task:
        return Task(
            message="m",
            principal=Principal(user_id=self.data.user.user_id, token=self.data.user.token),
            urls=self.world.urls,
            credentials={"zendesk": self.credential},
            authorization={"zendesk": self.fake.authorization(self.credential) or ""},
        )

    def tickets(self) -> list[str]:
        return [e.kind for e in self.world.ledger("zendesk") if e.kind == "ticket.created"]


def account(*faults: FaultRule) -> Account:
    fake = Zendesk()
    world = World([fake], faults=faults, seed=3)
    return Account(world, fake, build_world(3, WorldRecipe(customers=1), world.backends))


@pytest.fixture
def acct() -> Iterator[Account]:
    made = account()
    with made.world:
        yield made


def at(fault: object, **schedule: object) -> FaultRule:
    return FaultRule(fault=fault, target=Target.parse(TICKETS), **schedule)  # type: ignore[arg-type]


def _new_ticket(**extra: Any) -> Ticket:
    return Ticket(
        subject="Wrong invoice amount",
        comment=Comment(body="The invoice for order 1042 is wrong.", public=True),
        requester=User(name="Ann Example", email="ann@example.test"),
        **extra,
    )


# -- zenpy: the calls an agent makes ---------------------------------------------------------


def test_zenpy_creates_a_ticket_and_gets_its_audit_with_the_requester_made_an_end_user(
    acct: Account,
) -> None:
    audit = acct.zenpy().tickets.create(_new_ticket(external_id="inv-1042", priority="high"))
    assert isinstance(audit, TicketAudit)
    assert audit.ticket.id == 1 and audit.ticket.status == "new"
    assert audit.ticket.requester.email == "ann@example.test"  # zenpy fetched the user
    assert audit.ticket.requester.role == "end-user"
    created = acct.world.ledger("zendesk")[-1]
    assert created.kind == "ticket.created"
    assert created.fields["external_id"] == "inv-1042"
    assert created.fields["requester"] == "ann@example.test"
    assert created.principal == acct.data.user.user_id


def test_zenpy_shows_updates_and_comments_publicly_and_privately(acct: Account) -> None:
    zenpy = acct.zenpy()
    ticket_id = zenpy.tickets.create(_new_ticket()).ticket.id
    ticket = zenpy.tickets(id=ticket_id)
    ticket.status = "pending"
    ticket.comment = Comment(body="Checked the ledger: refund due.", public=False)
    assert zenpy.tickets.update(ticket).ticket.status == "pending"
    comments = [(c.body, c.public) for c in zenpy.tickets.comments(ticket=ticket_id)]
    assert comments == [
        ("The invoice for order 1042 is wrong.", True),
        ("Checked the ledger: refund due.", False),
    ]
    kinds = [e.kind for e in acct.world.ledger("zendesk")]
    assert kinds[-2:] == ["ticket.status_changed", "comment.created"]


def test_zenpy_finds_a_ticket_by_external_id_and_not_by_another(acct: Account) -> None:
    zenpy = acct.zenpy()
    zenpy.tickets.create(_new_ticket(external_id="inv-1042"))
    zenpy.tickets.create(_new_ticket(external_id="inv-7"))
    assert [t.external_id for t in zenpy.tickets(external_id="inv-1042")] == ["inv-1042"]
    assert list(zenpy.tickets(external_id="inv-404")) == []


def test_zenpy_users_me_create_or_update_and_search(acct: Account) -> None:
    zenpy = acct.zenpy()
    me = zenpy.users.me()
    assert me.email == acct.credential["email"] and me.role == "agent"
    made = zenpy.users.create_or_update(User(name="Bo", email="bo@example.test", external_id="c1"))
    again = zenpy.users.create_or_update(User(name="Bo Renamed", external_id="c1"))
    assert again.id == made.id and again.name == "Bo Renamed"
    assert [u.id for u in zenpy.users.search(query="bo@example.test")] == [made.id]
    contact = acct.data.contacts[0]  # the world's customers are the account's end users
    assert [u.email for u in zenpy.users.search(query=contact.email)] == [contact.email]


def test_zenpy_search_filters_tickets_by_qualifiers(acct: Account) -> None:
    zenpy = acct.zenpy()
    first = zenpy.tickets.create(_new_ticket(priority="urgent")).ticket
    zenpy.tickets.create(
        Ticket(subject="Shipping delay", comment=Comment(body="Where is my parcel?"))
    )
    found = zenpy.search("invoice", type="ticket", priority="urgent", status="new")
    assert [t.id for t in found] == [first.id]
    mine = zenpy.search(type="ticket", requester="me")  # the second one, asked by the agent
    assert [t.subject for t in mine] == ["Shipping delay"]
    assert [t.id for t in zenpy.search("type:ticket status<solved -parcel")] == [first.id]


def test_an_unsupported_search_qualifier_is_refused_and_says_what_is_supported(
    acct: Account,
) -> None:
    with pytest.raises(APIException) as caught:
        acct.zenpy().search("created>2024-01-01", type="ticket")
    assert caught.value.response.status_code == 400
    assert "chaoskit: the qualifier 'created>'" in str(caught.value)
    assert "status:" in str(caught.value)


# -- zenpy: errors raise zenpy's own exceptions -----------------------------------------------


def test_an_unknown_ticket_raises_record_not_found_in_zendesks_words(acct: Account) -> None:
    with pytest.raises(RecordNotFoundException) as caught:
        acct.zenpy().tickets(id=404)
    assert json.loads(str(caught.value)) == {"error": "RecordNotFound", "description": "Not found"}


def test_a_ticket_without_a_comment_is_record_invalid_with_details(acct: Account) -> None:
    with pytest.raises(APIException) as caught:
        acct.zenpy().tickets.create(Ticket(subject="No body"))
    body = json.loads(str(caught.value))
    assert caught.value.response.status_code == 422
    assert body["error"] == "RecordInvalid"
    assert body["details"]["description"][0]["error"] == "BlankValue"
    assert acct.tickets() == []


def test_a_wrong_token_is_a_401_in_zendesks_shape(acct: Account) -> None:
    bad = Zenpy(subdomain="chaoskit", email=acct.credential["email"], token="tok_wrong")
    with pytest.raises(APIException) as caught:
        bad.users.me()
    assert caught.value.response.status_code == 401
    assert json.loads(str(caught.value)) == {"error": "Couldn't authenticate you"}


def test_a_password_is_refused_where_an_api_token_is_accepted(acct: Account) -> None:
    token = acct.credential["token"]
    as_password = requests.get(f"{BASE}/api/v2/users/me", auth=(acct.credential["email"], token))
    as_token = requests.get(
        f"{BASE}/api/v2/users/me", auth=(f"{acct.credential['email']}/token", token)
    )
    assert (as_password.status_code, as_token.status_code) == (401, 200)


# -- zenpy: faults surface as zenpy surfaces them ---------------------------------------------


def test_zenpy_waits_out_a_429_on_the_virtual_clock_and_creates_one_ticket() -> None:
    made = account(at(RateLimit(retry_after=30), calls=(1,)))
    with made.world:
        made.zenpy().tickets.create(_new_ticket())
    assert made.tickets() == ["ticket.created"]
    sleeps = [e.seconds for e in made.world.trace.events if isinstance(e, SleepEvent)]
    assert sleeps == [1.0] * 30  # zenpy counts Retry-After down one second at a time
    assert made.world.clock.monotonic() == pytest.approx(30)


def test_a_rate_limit_storm_exhausts_zenpys_budget_and_creates_nothing() -> None:
    made = account(at(RateLimit(retry_after=30), always=True))
    with made.world, pytest.raises(RatelimitBudgetExceeded):
        made.zenpy(ratelimit_budget=90).tickets.create(_new_ticket())
    assert made.tickets() == []


def test_a_429_carries_zendesks_body_and_whole_second_retry_after() -> None:
    made = account(at(RateLimit(retry_after=2.5), always=True))
    with made.world:
        answer = requests.post(
            f"{BASE}/api/v2/tickets.json",
            json={"ticket": {"comment": {"body": "x"}}},
            auth=(f"{made.credential['email']}/token", made.credential["token"]),
        )
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3"  # zenpy int()s it: a fraction would crash it
    assert answer.json()["error"] == "APIRateLimitExceeded"


def test_a_503_on_a_create_raises_api_exception_with_zendesks_body_unretried() -> None:
    made = account(at(ServerError(status=503), calls=(1,)))
    with made.world, pytest.raises(APIException) as caught:
        made.zenpy().tickets.create(_new_ticket())
    assert caught.value.response.status_code == 503
    assert json.loads(str(caught.value))["error"] == "ServiceUnavailable"
    assert len(made.world.trace.of("request")) == 1  # urllib3 never retries a POST


def test_zenpys_own_urllib3_retry_passes_a_503_on_a_read_and_gives_up_on_a_storm() -> None:
    me = Target.parse("zendesk: GET /api/v2/users/me")
    made = account(FaultRule(fault=ServerError(status=503, burst=2), target=me, calls=(1,)))
    with made.world:
        assert made.zenpy().users.me().role == "agent"  # zenpy's adapter retried twice
    assert len(made.world.trace.of("request")) == 3
    storm = account(FaultRule(fault=ServerError(status=503), target=me, always=True))
    with storm.world, pytest.raises(requests.exceptions.RetryError):
        storm.zenpy().users.me()  # Retry(total=3) on 413 and 503, as zenpy mounts it
    assert len(storm.world.trace.of("request")) == 4


def test_a_timeout_after_commit_raises_read_timeout_and_the_ticket_exists() -> None:
    made = account(at(TimeoutAfterCommit(), calls=(1,)))
    with made.world, pytest.raises(requests.exceptions.ReadTimeout):
        made.zenpy(timeout=5).tickets.create(_new_ticket())
    assert made.tickets() == ["ticket.created"]
    assert made.world.clock.monotonic() == pytest.approx(5)  # zenpy's own timeout, virtual


# -- idempotency, as Zendesk documents it ----------------------------------------------------


def _post(made: Account, body: dict[str, Any], key: str | None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(
        f"{BASE}/api/v2/tickets.json",
        json=body,
        headers=headers,
        auth=(f"{made.credential['email']}/token", made.credential["token"]),
    )


BODY = {"ticket": {"subject": "Refund", "comment": {"body": "Please refund order 7."}}}


def test_the_same_key_and_body_replay_the_ticket_with_a_lookup_hit(acct: Account) -> None:
    first, again = _post(acct, BODY, "k-1"), _post(acct, BODY, "k-1")
    assert first.headers["x-idempotency-lookup"] == "miss"
    assert again.headers["x-idempotency-lookup"] == "hit"
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert acct.tickets() == ["ticket.created"]
    assert acct.world.trace.of("response")[-1].replayed  # type: ignore[union-attr]


def test_the_same_key_with_another_body_is_an_idempotent_request_error(acct: Account) -> None:
    _post(acct, BODY, "k-1")
    other = _post(acct, {"ticket": {"comment": {"body": "Another thing."}}}, "k-1")
    assert other.status_code == 400
    assert other.json() == {
        "error": "IdempotentRequestError",
        "description": "Request parameters don't match the given idempotency key",
    }
    assert acct.tickets() == ["ticket.created"]


def test_a_key_expires_after_two_hours_of_virtual_time(acct: Account) -> None:
    _post(acct, BODY, "k-1")
    time.sleep(IDEMPOTENCY_TTL)
    late = _post(acct, BODY, "k-1")
    assert late.headers["x-idempotency-lookup"] == "miss"
    assert acct.tickets() == ["ticket.created", "ticket.created"]


def test_without_a_key_every_retry_is_another_ticket(acct: Account) -> None:
    _post(acct, BODY, None)
    _post(acct, BODY, None)
    assert acct.tickets() == ["ticket.created", "ticket.created"]


def test_a_refused_create_leaves_its_key_free_for_the_corrected_request(acct: Account) -> None:
    assert _post(acct, {"ticket": {"subject": "no comment"}}, "k-2").status_code == 422
    assert _post(acct, BODY, "k-2").status_code == 201


def test_zenpys_own_retry_after_a_429_sends_the_same_key_and_creates_once() -> None:
    made = account(at(TimeoutAfterCommit(), calls=(1,)), at(RateLimit(), calls=(2,)))
    with made.world:
        zenpy = made.zenpy()
        zenpy.tickets.session.headers["Idempotency-Key"] = "ticket-inv-1042"
        with pytest.raises(requests.exceptions.ReadTimeout):
            zenpy.tickets.create(_new_ticket())
        audit = zenpy.tickets.create(_new_ticket())  # 429, waits, then replays the first
    assert audit.ticket.id == 1
    assert made.tickets() == ["ticket.created"]


# -- raw REST ---------------------------------------------------------------------------------


def test_raw_rest_lists_with_offset_and_cursor_paging(acct: Account) -> None:
    auth = (f"{acct.credential['email']}/token", acct.credential["token"])
    for n in range(3):
        _post(acct, {"ticket": {"comment": {"body": f"ticket {n}"}}}, None)
    offset = requests.get(f"{BASE}/api/v2/tickets", params={"per_page": 2}, auth=auth).json()
    assert (len(offset["tickets"]), offset["count"]) == (2, 3)
    last = requests.get(offset["next_page"], auth=auth).json()
    assert [t["id"] for t in last["tickets"]] == [3] and last["next_page"] is None
    cursor = requests.get(f"{BASE}/api/v2/tickets.json?page[size]=2", auth=auth).json()
    assert cursor["meta"]["has_more"] is True
    rest = requests.get(cursor["links"]["next"], auth=auth).json()
    assert [t["id"] for t in rest["tickets"]] == [3] and rest["meta"]["has_more"] is False


def test_raw_rest_with_httpx_and_task_auth_finds_a_ticket_by_external_id(acct: Account) -> None:
    task = acct.task()
    _post(acct, {"ticket": {"comment": {"body": "x"}, "external_id": "inv-9"}}, None)
    found = httpx.get(
        f"{task.urls['zendesk']}/api/v2/tickets",
        params={"external_id": "inv-9"},
        headers=task.auth("zendesk"),
    ).json()
    assert [t["external_id"] for t in found["tickets"]] == ["inv-9"]


def test_the_search_endpoint_answers_in_zendesks_results_envelope(acct: Account) -> None:
    task = acct.task()
    _post(acct, BODY, None)
    found = httpx.get(
        f"{task.urls['zendesk']}/api/v2/search.json",
        params={"query": "type:ticket refund"},
        headers=task.auth("zendesk"),
    ).json()
    assert found["count"] == 1 and found["results"][0]["result_type"] == "ticket"
    assert set(found) == {"results", "facets", "next_page", "previous_page", "count"}


# -- the task's credential: zenpy's three arguments --------------------------------------------


def test_the_task_hands_zenpys_three_arguments_read_only_and_a_basic_header(acct: Account) -> None:
    task = acct.task()
    credential = task.credentials["zendesk"]
    assert sorted(credential) == ["email", "subdomain", "token"]
    with pytest.raises(TypeError):
        credential["token"] = "x"
    assert Zenpy(**credential).users.me().email == credential["email"]
    assert task.auth("zendesk")["Authorization"].startswith("Basic ")


def test_a_task_refuses_a_credential_that_is_neither_a_string_nor_string_parts() -> None:
    principal = Principal(user_id="u", token="t")
    with pytest.raises(TypeError, match="credential for 'zendesk' is dict"):
        Task("m", principal, urls={}, credentials={"zendesk": {"token": 7}})


def test_auth_of_parts_without_a_header_says_to_build_it_from_the_parts() -> None:
    parts = {"subdomain": "acme", "email": "a@acme.test", "token": "t"}
    task = Task("m", Principal(user_id="u", token="t"), urls={}, credentials={"zendesk": parts})
    with pytest.raises(TypeError, match=r"has parts \(subdomain, email, token\)"):
        task.auth("zendesk")


def test_a_command_agent_gets_the_parts_as_variables_and_in_its_json_task(acct: Account) -> None:
    task = acct.task()
    env = task_environment(task)
    assert env["CHAOSKIT_ZENDESK_SUBDOMAIN"] == "chaoskit"
    assert env["CHAOSKIT_ZENDESK_EMAIL"] == acct.credential["email"]
    assert env["CHAOSKIT_ZENDESK_TOKEN"] == acct.data.user.token
    document = json.loads(json.dumps(task_document(task)))
    assert document["credentials"]["zendesk"] == acct.credential


def test_a_scenario_option_names_the_account_and_its_host() -> None:
    from chaoskit.fakes.zendesk import ZendeskOptions

    fake = Zendesk()
    fake.apply_options(ZendeskOptions(subdomain="Acme-Support"))
    assert fake.host == "acme-support.zendesk.com"
    assert fake.credential("tok")["subdomain"] == "acme-support"  # type: ignore[index]
    with pytest.raises(ValueError, match="a subdomain is letters"):
        ZendeskOptions(subdomain="acme.evil.com")


def test_zenpy_in_another_process_reaches_the_served_fake_through_its_own_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = account()
    with made.world.serve() as served:
        for name in ("ZENPY_FORCE_NETLOC", "ZENPY_FORCE_SCHEME"):
            monkeypatch.setenv(name, served.env[name])  # what the agent's process would get
        made.zenpy().tickets.create(_new_ticket())
    assert served.env["ZENPY_FORCE_SCHEME"] == "http"
    assert made.tickets() == ["ticket.created"]


# -- fidelity: every field zenpy's objects declare ---------------------------------------------

REFERENCE = json.loads((Path(__file__).parent / "data" / "zendesk_fields.json").read_text())


def test_tickets_users_comments_and_audits_carry_every_field_zenpy_declares(
    acct: Account,
) -> None:
    auth = (f"{acct.credential['email']}/token", acct.credential["token"])
    made = _post(acct, BODY, None).json()
    ticket_id, requester = made["ticket"]["id"], made["ticket"]["requester_id"]
    comments = requests.get(f"{BASE}/api/v2/tickets/{ticket_id}/comments", auth=auth).json()
    user = requests.get(f"{BASE}/api/v2/users/{requester}", auth=auth).json()["user"]
    shown = {
        "ticket": made["ticket"],
        "audit": made["audit"],
        "comment": comments["comments"][0],
        "user": user,
    }
    for kind, fields in shown.items():
        missing = sorted(set(REFERENCE[kind]) - set(fields))
        assert missing == [], f"the fake's {kind} lacks {missing}"
