"""The hubspot fake's search, by its laws: groups OR, filters AND, paging loses nothing.

Metamorphic properties over drawn contacts and filters, so they hold whatever the data, without
re-implementing the operators they combine.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.fakes import HubSpot

NAMES = ("Ada", "Grace", "Linus", "ada", "Alan")
DOMAINS = ("acme.test", "globex.test")
AUTH = {"Authorization": f"Bearer {HubSpot.DEFAULT_TOKEN}"}

people = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(DOMAINS), st.booleans()),
    min_size=0,
    max_size=12,
)
filters = st.one_of(
    st.builds(
        lambda v: {"propertyName": "firstname", "operator": "EQ", "value": v},
        st.sampled_from(NAMES),
    ),
    st.builds(
        lambda v: {"propertyName": "firstname", "operator": "NEQ", "value": v},
        st.sampled_from(NAMES),
    ),
    st.builds(
        lambda vs: {"propertyName": "firstname", "operator": "IN", "values": vs},
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=3),
    ),
    st.builds(
        lambda d: {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": f"*@{d}"},
        st.sampled_from(DOMAINS),
    ),
    st.just({"propertyName": "phone", "operator": "HAS_PROPERTY"}),
    st.just({"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"}),
)


def _fake(drawn: list[tuple[str, str, bool]]) -> HubSpot:
    fake = HubSpot()
    for n, (name, domain, has_phone) in enumerate(drawn):
        props = {"firstname": name, "email": f"p{n}@{domain}"}
        if has_phone:
            props["phone"] = f"555-01{n:02d}"
        fake.add_object("contacts", props)
    return fake


def _ids(fake: HubSpot, groups: list[dict[str, Any]], **extra: Any) -> list[str]:
    body = {"filterGroups": groups, "limit": 200, **extra}
    answer = fake.request("POST", "/crm/v3/objects/contacts/search", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


@settings(max_examples=60, deadline=None)
@given(people, filters, filters)
def test_two_groups_find_the_union_and_one_group_of_two_filters_the_intersection(
    drawn: list[tuple[str, str, bool]], first: dict[str, Any], second: dict[str, Any]
) -> None:
    fake = _fake(drawn)
    a = set(_ids(fake, [{"filters": [first]}]))
    b = set(_ids(fake, [{"filters": [second]}]))
    assert set(_ids(fake, [{"filters": [first]}, {"filters": [second]}])) == a | b
    assert set(_ids(fake, [{"filters": [first, second]}])) == a & b


@settings(max_examples=60, deadline=None)
@given(people, st.lists(filters, max_size=2), st.integers(min_value=1, max_value=5))
def test_paging_with_after_returns_every_match_once_and_total_counts_them(
    drawn: list[tuple[str, str, bool]], chosen: list[dict[str, Any]], limit: int
) -> None:
    fake = _fake(drawn)
    groups = [{"filters": chosen}] if chosen else []
    everything = _ids(fake, groups)
    seen: list[str] = []
    after: str | None = None
    while True:
        body: dict[str, Any] = {"filterGroups": groups, "limit": limit}
        if after is not None:
            body["after"] = after
        page = fake.request(
            "POST", "/crm/v3/objects/contacts/search", json=body, headers=AUTH
        ).json()
        assert page["total"] == len(everything)
        seen += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert seen == everything


@settings(max_examples=40, deadline=None)
@given(people, filters)
def test_a_filter_and_its_negation_split_the_contacts(
    drawn: list[tuple[str, str, bool]], chosen: dict[str, Any]
) -> None:
    negations = {
        "EQ": "NEQ",
        "HAS_PROPERTY": "NOT_HAS_PROPERTY",
        "IN": "NOT_IN",
        "CONTAINS_TOKEN": "NOT_CONTAINS_TOKEN",
    }
    negations |= {v: k for k, v in negations.items()}
    fake = _fake(drawn)
    flipped = {**chosen, "operator": negations[chosen["operator"]]}
    kept = set(_ids(fake, [{"filters": [chosen]}]))
    dropped = set(_ids(fake, [{"filters": [flipped]}]))
    assert kept & dropped == set()
    assert kept | dropped == set(_ids(fake, []))
