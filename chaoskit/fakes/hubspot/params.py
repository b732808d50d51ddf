"""The parameters of each hubspot route, declared once as HubSpot takes them.

Query parameters that take several values (``properties``, ``associations``) take them
repeated (``properties=email&properties=phone``, as the SDK sends them) or comma-separated.
Bodies are JSON; fields not named here are ignored, as HubSpot ignores them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Read(_Model):
    properties: list[str] | None = Field(
        None, description="The properties to return (default: the type's defaults)."
    )
    propertiesWithHistory: list[str] | None = Field(
        None, description="Accepted; histories are not modelled (returned empty)."
    )
    associations: list[str] | None = Field(
        None, description="Object types whose associated ids to return (contacts, notes…)."
    )
    archived: bool | None = Field(None, description="true: archived records only.")


class GetOne(Read):
    idProperty: str | None = Field(
        None, description="Look the record up by this unique property (contacts: email)."
    )


class Page(Read):
    limit: int | None = Field(None, ge=1, le=100, description="Page size, 1 to 100 (10).")
    after: str | None = Field(None, description="paging.next.after of the previous page.")


class Archived(_Model):
    archived: bool | None = Field(None, description="true: read archived records.")


class IdProperty(_Model):
    idProperty: str | None = Field(
        None, description="The unique property the path's id is (contacts: email)."
    )


class Create(_Model):
    properties: dict[str, Any] = Field(description="Property names to values (strings).")
    associations: list[dict[str, Any]] | None = Field(
        None,
        description='[{"to": {"id": "…"}, "types": [{"associationCategory": '
        '"HUBSPOT_DEFINED", "associationTypeId": 202}]}]',
    )


class Update(_Model):
    properties: dict[str, Any] = Field(description="The properties to change.")


class BatchRead(_Model):
    inputs: list[dict[str, Any]] = Field(description='[{"id": "…"}], at most 100.')
    properties: list[str] | None = None
    propertiesWithHistory: list[str] | None = None
    idProperty: str | None = Field(None, description="Look the ids up by this property.")


class BatchCreate(_Model):
    inputs: list[dict[str, Any]] = Field(
        description="Objects as POST /crm/v3/objects/{type} takes them, at most 100."
    )


class Search(_Model):
    filterGroups: list[dict[str, Any]] | None = Field(
        None,
        description='OR of groups, AND of filters: [{"filters": [{"propertyName": "email", '
        '"operator": "EQ", "value": "…"}]}]. Operators: EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, '
        "NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN.",
    )
    query: str | None = Field(None, description="Words to find in the type's main properties.")
    sorts: list[Any] | None = Field(
        None, description='"createdate", "-createdate" or {propertyName, direction}.'
    )
    properties: list[str] | None = None
    limit: int | None = Field(None, ge=1, le=200, description="Page size, 1 to 200 (10).")
    after: str | None = Field(None, description="paging.next.after of the previous page.")
