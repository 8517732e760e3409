"""Choose, per request, the backends to try and in which order.

Order: the request's explicit choice (it must be allowed) or the policy default; then,
if the policy allows failover, the other allowed backends. A backend that cannot speak
the voice is skipped (or refused, if it was asked for explicitly); a backend whose
circuit is open moves to the end, kept only as a last resort.
"""

from __future__ import annotations

from scaispeak.speak.backends.catalog import BackendCatalog, Route
from scaispeak.speak.backends.policy import Policy
from scaispeak.speak.errors import (
    BackendNotAllowed,
    BackendUnavailable,
    UnknownBackend,
    VoiceNotOnBackend,
)
from scaispeak.speak.voices.models import Voice


def plan_routes(
    policy: Policy, catalog: BackendCatalog, voice: Voice, requested: str | None
) -> list[Route]:
    if not policy.allowed:
        # The policy names only backends this deployment stopped offering (a relay
        # whose configuration was removed): the server's side, not the request's.
        raise BackendUnavailable(
            "None of the backends your tenant's policy allows is offered here now; "
            f"offered: {catalog.names()}. A tenant admin can change the policy."
        )
    if requested is not None:
        if requested not in catalog.names():
            raise UnknownBackend(f"No backend {requested!r}; offered: {catalog.names()}.")
        if requested not in policy.allowed:
            raise BackendNotAllowed(
                f"Your tenant's policy does not allow the {requested!r} backend."
            )
    first = requested or policy.default
    order = [first] + ([b for b in policy.allowed if b != first] if policy.failover else [])
    routes = []
    for backend in order:
        route = catalog.route(backend, voice)
        if route is None and backend == requested:
            raise VoiceNotOnBackend(f"Voice {voice.id} is not available on {backend!r}.")
        if route is not None:
            routes.append(route)
    if not routes:
        raise VoiceNotOnBackend(f"No allowed backend can speak voice {voice.id}.")
    healthy = [r for r in routes if catalog.healthy(r.backend)]
    return healthy + [r for r in routes if r not in healthy]
