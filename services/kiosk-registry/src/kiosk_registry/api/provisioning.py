"""Provisioning a kiosk and authenticating it.

Dashboards (user token): create a provisioning code, revoke a kiosk. Kiosks (no user token):
claim a code, exchange their credential for an access token, rotate the credential. The
protocol is described for kiosk developers in docs/kiosk-provisioning.md.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from jarvis_common.http import COMMON_ERRORS, UoW, error_responses
from kiosk_registry import provisioning as p
from kiosk_registry.auth import CurrentUser, Registry
from kiosk_registry.kiosks import Kiosk

router = APIRouter(
    prefix="/api/v1", tags=["provisioning"], responses=error_responses(*COMMON_ERRORS, 410)
)


@router.post("/kiosks/{kiosk_id}/provisioning-code", status_code=status.HTTP_201_CREATED)
async def create_provisioning_code(
    kiosk_id: uuid.UUID, principal: CurrentUser, uow: UoW, registry: Registry
) -> p.ProvisioningCode:
    """A single-use code for setting the kiosk up, shown once; replaces any outstanding one."""
    return await p.create_code(
        uow, principal, kiosk_id, ttl_h=registry.settings.provisioning_code_ttl_h
    )


@router.post("/kiosks/{kiosk_id}/revoke")
async def revoke_kiosk(
    kiosk_id: uuid.UUID, principal: CurrentUser, uow: UoW, body: p.RevokeIn | None = None
) -> Kiosk:
    """Revoke the kiosk for good. Idempotent: a second call answers the same, publishes nothing."""
    return await p.revoke(uow, principal, kiosk_id, body.reason if body else None)


@router.post("/provisioning/claim", status_code=status.HTTP_201_CREATED)
async def claim_provisioning_code(body: p.Claim, uow: UoW) -> p.Claimed:
    """Called by the kiosk: claim a code, receive the kiosk's credential (shown once)."""
    return await p.claim(uow, body)


@router.post("/kiosk-auth/token")
async def kiosk_token(body: p.CredentialIn, uow: UoW, registry: Registry) -> p.KioskAccessToken:
    """Called by the kiosk: exchange its credential for a short-lived access token."""
    return await p.issue_token(
        uow,
        body.credential,
        signer=registry.signer,
        ttl_s=registry.settings.kiosk_token_ttl_s,
    )


@router.post("/kiosk-auth/rotate", status_code=status.HTTP_201_CREATED)
async def rotate_kiosk_credential(body: p.CredentialIn, uow: UoW, registry: Registry) -> p.Rotated:
    """Called by the kiosk: a new credential; the presented one keeps working for the grace."""
    return await p.rotate(uow, body.credential, grace_s=registry.settings.credential_grace_s)
