"""Adding a contact to HubSpot with the official SDK: retry blind, or look first.

HubSpot has no idempotency keys, and only a contact's ``email`` is unique: a lead taken on the
phone, with a name and a number, can be created any number of times. ``naive`` retries a
create whose response never came, so a timeout after commit leaves two Robin Vales in the CRM.
``hardened`` searches for the person (name and phone) before every attempt, treats HubSpot's
409 ``CONFLICT`` (the email already exists) as done, and retries only transient failures.

Both use ``hubspot-api-client`` as a team would, with the token the task gives them
(``task.credentials["hubspot"]``); the world answers on HubSpot's own host.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import hubspot
import urllib3
from hubspot.crm.companies import PublicObjectSearchRequest as CompanySearch
from hubspot.crm.contacts import PublicObjectSearchRequest, SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ApiException

from chaoskit import Reply, Task
from chaoskit.examples.agents.toolkit import backoff_delay, reply

__all__ = ["hardened", "naive"]

#: What the planner reads from the user's message: who, which number, at which company.
_LEAD = re.compile(
    r"add (?P<first>[A-Z][\w-]+) (?P<last>[A-Z][\w-]+) \(phone (?P<phone>[^)]+)\)"
    r".*? at (?P<company>.+?), (?:to|in) HubSpot",
    re.IGNORECASE,
)
#: HubSpot's default association type from a contact to its company.
_CONTACT_TO_COMPANY = 279
#: What is worth another attempt: HubSpot's rate limit and its server errors.
_TRANSIENT = frozenset({429, 500, 502, 503, 504})


def naive(task: Task) -> Reply:
    """Creates the contact; on any failure, waits and creates it again."""
    lead = _lead(task)
    if lead is None:
        return _no_lead()
    sdk = _client(task)
    contact = _new_contact(sdk, lead)
    for attempt in range(3):
        try:
            made = sdk.crm.contacts.basic_api.create(contact)
        except (ApiException, urllib3.exceptions.HTTPError):
            time.sleep(2**attempt)
            continue
        return _added(lead, made.id)
    return reply("Sorry, I could not add the contact to HubSpot.", "contact", "failed")


def hardened(task: Task) -> Reply:
    """Looks for the person before every attempt; 409 means the contact exists."""
    lead = _lead(task)
    if lead is None:
        return _no_lead()
    sdk = _client(task)
    contact = _new_contact(sdk, lead)
    uncertain = False
    for attempt in range(3):
        existing = _existing(sdk, lead)
        if existing is not None:
            return _added(lead, existing)
        try:
            made = sdk.crm.contacts.basic_api.create(contact)
        except ApiException as exc:
            if exc.status == 409:
                return _added(lead, _existing_id(exc) or "(already in HubSpot)")
            if exc.status not in _TRANSIENT:
                return _not_added(f"HubSpot refused it ({exc.status})")
            time.sleep(backoff_delay(attempt, _retry_after(exc)))
            continue
        except urllib3.exceptions.HTTPError:
            uncertain = True  # it may have been created: the next turn looks first
            time.sleep(backoff_delay(attempt, None))
            continue
        return _added(lead, made.id)
    if uncertain and (found := _existing(sdk, lead)) is not None:
        return _added(lead, found)
    return _not_added("HubSpot kept failing")


# -- the plumbing both share ---------------------------------------------------------------


def _client(task: Task) -> Any:
    return hubspot.Client.create(access_token=task.credentials["hubspot"])


def _lead(task: Task) -> dict[str, str] | None:
    found = _LEAD.search(task.message)
    return None if found is None else found.groupdict()


def _new_contact(sdk: Any, lead: dict[str, str]) -> SimplePublicObjectInputForCreate:
    properties = {
        "firstname": lead["first"],
        "lastname": lead["last"],
        "phone": lead["phone"],
        "company": lead["company"],
    }
    company = _company_id(sdk, lead["company"])
    associations = []
    if company is not None:
        types = [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": _CONTACT_TO_COMPANY}
        ]
        associations.append({"to": {"id": company}, "types": types})
    return SimplePublicObjectInputForCreate(properties=properties, associations=associations)


def _company_id(sdk: Any, name: str) -> str | None:
    where = [{"filters": [{"propertyName": "name", "operator": "EQ", "value": name}]}]
    try:
        found = sdk.crm.companies.search_api.do_search(CompanySearch(filter_groups=where, limit=1))
    except (ApiException, urllib3.exceptions.HTTPError):
        return None
    return found.results[0].id if found.results else None


def _existing(sdk: Any, lead: dict[str, str]) -> str | None:
    """The id of a contact with the lead's name and phone, if HubSpot has one."""
    same = [
        {"propertyName": "firstname", "operator": "EQ", "value": lead["first"]},
        {"propertyName": "lastname", "operator": "EQ", "value": lead["last"]},
        {"propertyName": "phone", "operator": "EQ", "value": lead["phone"]},
    ]
    request = PublicObjectSearchRequest(filter_groups=[{"filters": same}], limit=1)
    try:
        found = sdk.crm.contacts.search_api.do_search(request)
    except (ApiException, urllib3.exceptions.HTTPError):
        return None
    return found.results[0].id if found.results else None


def _existing_id(exc: ApiException) -> str | None:
    try:
        message = str(json.loads(exc.body or "{}").get("message", ""))
    except ValueError:
        return None
    found = re.search(r"Existing ID: (\d+)", message)
    return found.group(1) if found else None


def _retry_after(exc: ApiException) -> float | None:
    value = (exc.headers or {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _added(lead: dict[str, str], contact_id: str) -> Reply:
    who = f"{lead['first']} {lead['last']}"
    return reply(f"I added {who} to HubSpot (contact {contact_id}).", "contact", "done", contact_id)


def _not_added(why: str) -> Reply:
    return reply(f"Sorry, I could not add the contact to HubSpot: {why}.", "contact", "failed")


def _no_lead() -> Reply:
    return reply("I could not tell whom to add to HubSpot.", "contact", "failed")
