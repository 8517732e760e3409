"""HTTP routes for backends and the tenant's backend policy (thin)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from scaispeak.platform.deps import ApiKeyCaller, Caller, Session
from scaispeak.speak.backends.policy import Policy, load_policy, save_policy
from scaispeak.speak.context import speak_context

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["scaispeak: backends"])


class BackendOut(BaseModel):
    name: str
    healthy: bool
    state: str = Field(description="ok, or the relay's circuit: closed, open, half_open.")
    detail: str
    formats: list[str]
    streaming: bool
    cloned_voices: bool


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    allowed_backends: list[str]
    default_backend: str
    failover: bool = Field(True, strict=True)


class PolicyOut(BaseModel):
    allowed_backends: list[str]
    default_backend: str
    failover: bool
    customised: bool = Field(description="False while the tenant uses the deployment defaults.")


def _policy_out(policy: Policy) -> PolicyOut:
    return PolicyOut(
        allowed_backends=list(policy.allowed),
        default_backend=policy.default,
        failover=policy.failover,
        customised=policy.customised,
    )


@router.get("/backends")
async def list_backends(request: Request, caller: Caller) -> list[BackendOut]:
    infos = speak_context(request).catalog.describe()
    return [BackendOut(**{**info.__dict__, "formats": list(info.formats)}) for info in infos]


@router.get("/policy")
async def get_policy(request: Request, session: Session, caller: Caller) -> PolicyOut:
    ctx = speak_context(request)
    return _policy_out(
        await load_policy(session, caller.tenant_id, ctx.catalog, ctx.default_backend)
    )


@router.put("/policy")
async def put_policy(
    request: Request, session: Session, caller: ApiKeyCaller, body: PolicyIn
) -> PolicyOut:
    ctx = speak_context(request)
    policy = await save_policy(
        session, caller, ctx.catalog, body.allowed_backends, body.default_backend, body.failover
    )
    ctx.backend_policies.put(caller.tenant_id, policy)  # applies on this replica at once
    return _policy_out(policy)
