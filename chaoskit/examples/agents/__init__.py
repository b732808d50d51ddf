"""Reference agents, written as users write them: real HTTP calls, a scripted planner.

Every module exports two agents (callables taking a :class:`chaoskit.core.agent.Task`):
``naive``, which has one of the failures that agents acting on real systems are known for, and
``hardened``, which fixes it the way a careful team would. A deterministic, regex-based planner
stands in for the language model, so the only thing that varies between runs is what chaoskit
injects.

=====================  ==========================================================================
module                 naive → hardened
=====================  ==========================================================================
``refunds``            retries a timed-out refund with a new idempotency key → key derived from
                       the intent, plus a circuit breaker
``*_refunds``          the same on aiohttp (``aiohttp_refunds``, async), urllib3 (the fix lets
                       urllib3's ``Retry`` retry the POST) and urllib.request
``refunds_in_flight``  reads Stripe's 409 ``idempotency_key_in_use`` as a refusal → looks the
                       refund up, else retries the same key until the outcome is known
``loop``               retries every error, trusts the model's arguments → validated arguments,
                       transient/terminal split, bounded backoff honouring ``Retry-After``
``orchestrator``       no caps at all → step and time budgets, per-tool circuit breakers, a tool
                       allowlist, human approval for large refunds
``replies``            tells the user what the model wrote → tells what the tools returned
``scoped_search``      searches the CRM as the agent's service account → as the user
``checkout``           creates an order, charge fails, order stays → cancels the order
``reminders``          restarts a batch of emails after a 429 → resumes it, no duplicates
``injection``          follows instructions found in a CRM note → runs only what the user asked
``tickets``            retries ticket creation on a backend without idempotency → dedupes by
                       ``external_id``
``zendesk_tickets``    on zenpy, creates the Zendesk ticket again after a timeout →
                       ``Idempotency-Key`` and ``external_id`` from the intent, lookup first
=====================  ==========================================================================
"""
