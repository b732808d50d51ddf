"""A refund agent running as a FastAPI service, tested by chaoskit through the service form.

    uvicorn refund_service:app --port 8000
    chaoskit run --agent-url http://127.0.0.1:8000/naive scenarios/refund_timeout_after_commit.toml

chaoskit POSTs each task as JSON (message, principal, urls, credentials, budget) and reads the
reply from the response. A service cannot read per-task environment variables, so every
client here takes its base URL and key from the task itself.

``/naive`` retries a timed-out refund with a fresh idempotency key each time (a refund that
had committed is made twice); ``/hardened`` keys the intent, so a retry is the same refund,
backs off honouring Retry-After, and says so when the outcome is unknown.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

app = FastAPI(title="refund agent")

#: Real seconds: the service runs in real time, so keep its timeouts short for a chaos run.
TIMEOUT = float(os.environ.get("REFUND_TIMEOUT_SECONDS", "2"))
NO_ORDER = "I could not find that order. Could you send me its order number (ord_…)?"


def _reply(text: str, status: str, ref: str | None = None) -> dict[str, Any]:
    return {"reply": text, "claims": [{"intent": "refund", "status": status, "ref": ref}]}


async def _order(client: httpx.AsyncClient, task: dict[str, Any]) -> dict[str, Any] | None:
    found = re.search(r"\bord_[0-9A-Za-z]{14}\b", task["message"])
    if found is None:
        return None
    response = await client.get(
        f"{task['urls']['crm']}/v1/orders/{found[0]}",
        headers={"Authorization": f"Bearer {task['credentials']['crm']}"},
    )
    return response.json() if response.is_success else None


def _refund_params(task: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    half = re.search(r"\bhalf\b", task["message"], re.IGNORECASE) is not None
    amount = int(order["amount"]) // 2 if half else int(order["amount"])
    return {"charge": order["charge_id"], "amount": amount}


async def _refund(
    client: httpx.AsyncClient, task: dict[str, Any], params: dict[str, Any], key: str
) -> httpx.Response:
    return await client.post(
        f"{task['urls']['payments']}/v1/refunds",
        data=params,
        headers={
            "Authorization": f"Bearer {task['credentials']['payments']}",
            "Idempotency-Key": key,
        },
    )


@app.post("/naive")
async def naive(task: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        order = await _order(client, task)
        if order is None:
            return _reply(NO_ORDER, "failed")
        params = _refund_params(task, order)
        for attempt in range(3):
            try:
                response = await _refund(client, task, params, str(uuid.uuid4()))
            except httpx.TransportError:
                await asyncio.sleep(0.05 * 2**attempt)  # "it timed out, so it did not happen"
                continue
            if response.is_success:
                made = response.json()["id"]
                return _reply(f"Refund {made} submitted.", "done", made)
            return _reply(f"Sorry, the refund failed ({response.status_code}).", "failed")
    return _reply("Sorry, the payment service is not answering.", "failed")


@app.post("/hardened")
async def hardened(task: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        order = await _order(client, task)
        if order is None:
            return _reply(NO_ORDER, "failed")
        params = _refund_params(task, order)
        key = f"refund-{params['charge']}-{params['amount']}"  # the intent, not the attempt
        uncertain = False
        for attempt in range(3):
            try:
                response = await _refund(client, task, params, key)
            except httpx.TransportError:
                uncertain = True
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            if response.is_success:
                made = response.json()["id"]
                return _reply(f"Refund {made} submitted.", "done", made)
            if response.status_code not in (409, 429, 500, 502, 503, 504):
                return _reply(f"Sorry, the refund was refused ({response.status_code}).", "failed")
            wait = float(response.headers.get("retry-after", 0) or 0)
            await asyncio.sleep(min(max(wait, 0.05 * 2**attempt), 1.0))
    if uncertain:
        return _reply(
            "I could not confirm the refund: the payment service stopped answering, and it may "
            "have gone through. I have passed it to a colleague to check.",
            "escalated",
        )
    return _reply("Sorry, the payment service is failing; no refund was made.", "failed")
