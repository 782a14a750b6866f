"""Provisioning codes, kiosk credentials and kiosk access tokens.

The life of a kiosk's identity:

1. A manager creates a **provisioning code** for a kiosk: 10 characters of Crockford's base32
   (about 50 bits), shown once as `XXXX-XXXX-XX`, stored as the sha256 hex of its normalised
   form in `kiosks.provisioning_code_hash`, with an expiry. A new code replaces the
   outstanding one.
2. The kiosk **claims** the code with its device id and hardware info, and receives its own
   **credential** `kc_<credential id hex>_<secret>`, shown once; only sha256(secret) is stored.
3. The kiosk exchanges the credential for a short-lived **access token** (Ed25519-signed, for
   the kiosk audience), which the gateway verifies offline with the registry's public key.
4. The kiosk **rotates** its credential: the old one keeps working for a grace period.
5. A manager **revokes** the kiosk: every credential dies, `kiosk.revoked` is published.

How a code's state is kept in the kiosk row (tables.py has no "used" column):

- outstanding: `provisioning_code_hash` set, `provisioning_code_expires_at` in the future;
- expired: hash set, expiry in the past;
- used: hash kept, expiry NULL (and `provisioned_at` set) — the claim clears the expiry in the
  same atomic UPDATE that provisions the kiosk, so a second claim of the code finds the row but
  can tell "used" (409) from "unknown" (404). The legacy migration (0004) follows the same
  convention: a kiosk that was already provisioned keeps its code hash with no expiry.
- replaced or cleared by a revocation: the hash is gone, so the old code is unknown (404).

The claim is one `UPDATE … WHERE provisioning_code_hash = :h AND provisioning_code_expires_at >
now() AND revoked_at IS NULL RETURNING …`: of two concurrent claims one takes the row lock and
provisions; the other waits, re-checks the row once the first commits, no longer matches (its
expiry is NULL) and is answered 409. Every write path that touches a kiosk's credentials (claim,
rotation, revocation) first locks the kiosk row, so they serialise per kiosk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError

from jarvis_common.db import UnitOfWork
from jarvis_common.errors import AppError, Conflict, NotFound, Unauthorized
from jarvis_common.events.catalogue import KioskProvisioned, KioskRevoked
from jarvis_common.tokens import KIOSK_AUDIENCE, TokenSigner
from kiosk_registry.audit import record_change
from kiosk_registry.auth import Actor, Principal, require_role
from kiosk_registry.kiosks import KIOSK_COLUMNS, Kiosk, effective_config, get_kiosk
from kiosk_registry.tables import gyms, kiosk_credentials, kiosks


class Gone(AppError):
    status_code = 410
    code = "gone"


# --- codes and credentials as strings ----------------------------------------------------------

# Crockford's base32: no I, L, O or U, so nothing on a label can be misread.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits
_CODE_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_SEPARATORS = re.compile(r"[\s\-_.]+")

CREDENTIAL_PREFIX = "kc_"
_CREDENTIAL = re.compile(r"^kc_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
# Compared against when the credential id is unknown, so both failures cost the same.
_DUMMY_SECRET_HASH = hashlib.sha256(b"not-a-real-secret").hexdigest()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_code() -> str:
    """A fresh code, normalised (10 characters, no separators)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalise_code(typed: str) -> str | None:
    """What a person typed, as the stored form: case, separators and look-alikes forgiven."""
    code = _CODE_SEPARATORS.sub("", typed).upper().translate(_CODE_READS_AS)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def code_hashes(typed: str) -> list[str]:
    """The hashes a typed code may be stored under: its normalised form, then (for codes carried
    over from the legacy schema, hashed verbatim by migration 0004) the text as typed."""
    hashes = []
    normalised = normalise_code(typed)
    if normalised is not None:
        hashes.append(sha256_hex(normalised))
    verbatim = sha256_hex(typed.strip())
    if typed.strip() and verbatim not in hashes:
        hashes.append(verbatim)
    return hashes


def new_credential() -> tuple[uuid.UUID, str, str]:
    """(credential id, the credential to hand out, the hash to store)."""
    credential_id = uuid.uuid4()
    secret = secrets.token_urlsafe(32)  # 43 characters
    return credential_id, f"{CREDENTIAL_PREFIX}{credential_id.hex}_{secret}", sha256_hex(secret)


def parse_credential(credential: str) -> tuple[uuid.UUID, str] | None:
    match = _CREDENTIAL.match(credential.strip())
    if match is None:
        return None
    return uuid.UUID(hex=match.group(1)), match.group(2)


# --- models ------------------------------------------------------------------------------------


class ProvisioningCode(BaseModel):
    kiosk_id: uuid.UUID
    code: str = Field(description="Shown once: give it to whoever sets the kiosk up.")
    expires_at: datetime


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=200)
    hardware_info: dict[str, Any] = Field(default_factory=dict)

    @field_validator("hardware_info")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > 16_384:
            raise ValueError("hardware_info is limited to 16 KiB of JSON")
        return value


class Claimed(BaseModel):
    kiosk_id: uuid.UUID
    gym_id: uuid.UUID
    credential: str = Field(description="Shown once: the kiosk stores it; the registry cannot.")


class CredentialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential: str = Field(min_length=1, max_length=200)


class KioskAccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Rotated(BaseModel):
    kiosk_id: uuid.UUID
    credential: str = Field(description="Shown once: the new credential.")
    previous_credential_expires_at: datetime


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


# --- provisioning codes ------------------------------------------------------------------------


async def create_code(
    uow: UnitOfWork, principal: Principal, kiosk_id: uuid.UUID, *, ttl_h: float
) -> ProvisioningCode:
    """A new single-use code for the kiosk, replacing any outstanding one."""
    require_role(principal, "super_admin", "franchise_owner", "gym_manager")
    kiosk = await get_kiosk(uow, principal, kiosk_id)  # another tenant's kiosk: 404
    for _ in range(5):  # a collision on 50 random bits is unlikely; never a 500 for one
        code = new_code()
        try:
            async with uow.session.begin_nested():
                row = (
                    await uow.session.execute(
                        kiosks.update()
                        .where(kiosks.c.id == kiosk_id, kiosks.c.revoked_at.is_(None))
                        .values(
                            provisioning_code_hash=sha256_hex(code),
                            provisioning_code_expires_at=func.now() + timedelta(hours=ttl_h),
                            updated_at=func.now(),
                        )
                        .returning(kiosks.c.provisioning_code_expires_at)
                    )
                ).one_or_none()
        except IntegrityError:
            continue
        break
    else:
        raise Conflict("could not create a unique provisioning code: try again")
    if row is None:
        raise Conflict(f"kiosk {kiosk_id} is revoked: create a new kiosk", code="kiosk_revoked")
    expires_at = row.provisioning_code_expires_at
    await record_change(
        uow,
        principal.actor,
        "kiosk.provisioning_code_created",
        "kiosk",
        kiosk_id,
        gym_id=kiosk.gym_id,
        franchise_id=await _franchise_of(uow, kiosk.gym_id),
        after={"provisioning_code_expires_at": expires_at},
    )
    return ProvisioningCode(kiosk_id=kiosk_id, code=display_code(code), expires_at=expires_at)


async def claim(uow: UnitOfWork, body: Claim) -> Claimed:
    """Provision the kiosk whose outstanding code this is; hand out its first credential."""
    row = None
    for code_hash in code_hashes(body.code):
        row = (
            (
                await uow.session.execute(
                    kiosks.update()
                    .where(
                        kiosks.c.provisioning_code_hash == code_hash,
                        kiosks.c.provisioning_code_expires_at > func.now(),
                        kiosks.c.revoked_at.is_(None),
                    )
                    .values(
                        # The hash stays, the expiry goes: "used", not "unknown".
                        provisioning_code_expires_at=None,
                        provisioned_at=func.now(),
                        device_id=body.device_id,
                        hardware_info=body.hardware_info,
                        status="provisioning",  # what kiosk_status says until the first heartbeat
                        updated_at=func.now(),
                    )
                    .returning(*KIOSK_COLUMNS)
                )
            )
            .mappings()
            .one_or_none()
        )
        if row is not None:
            break
    if row is None:
        await _why_unclaimable(uow, body.code)
    kiosk = Kiosk.model_validate(dict(row))
    actor = Actor("kiosk", str(kiosk.id))
    # A kiosk has one device: whatever credentials an earlier claim handed out stop working.
    replaced = await _revoke_credentials(uow, kiosk.id)
    credential_id, credential, secret_hash = new_credential()
    await uow.session.execute(
        kiosk_credentials.insert().values(
            id=credential_id, kiosk_id=kiosk.id, secret_hash=secret_hash
        )
    )
    gym = (
        (await uow.session.execute(select(gyms).where(gyms.c.id == kiosk.gym_id))).mappings().one()
    )
    uow.publish(
        KioskProvisioned(
            kiosk_id=kiosk.id,
            gym_id=kiosk.gym_id,
            slug=kiosk.slug,
            name=kiosk.name,
            device_id=kiosk.device_id,
            config_version=kiosk.config_version,
            config=effective_config(kiosk, gym),
        ),
        gym_id=kiosk.gym_id,
        franchise_id=gym["franchise_id"],
    )
    await record_change(
        uow,
        actor,
        "kiosk.provisioned",
        "kiosk",
        kiosk.id,
        gym_id=kiosk.gym_id,
        franchise_id=gym["franchise_id"],
        after={
            **kiosk.model_dump(),
            "credential_id": credential_id,
            "revoked_credentials": replaced,
        },
    )
    return Claimed(kiosk_id=kiosk.id, gym_id=kiosk.gym_id, credential=credential)


async def _why_unclaimable(uow: UnitOfWork, typed: str) -> NoReturn:
    """No outstanding code matched: say whether it is unknown, used or expired."""
    hashes = code_hashes(typed)
    found = None
    if hashes:
        found = (
            await uow.session.execute(
                select(
                    kiosks.c.revoked_at,
                    kiosks.c.provisioning_code_expires_at,
                    (kiosks.c.provisioning_code_expires_at <= func.now()).label("expired"),
                )
                .where(kiosks.c.provisioning_code_hash.in_(hashes))
                .limit(1)
            )
        ).one_or_none()
    if found is None:
        raise NotFound("unknown provisioning code", code="provisioning_code_unknown")
    if found.provisioning_code_expires_at is None:
        raise Conflict(
            "this provisioning code has already been used", code="provisioning_code_used"
        )
    if found.revoked_at is not None:
        raise Gone("this kiosk has been revoked", code="kiosk_revoked")
    if found.expired:
        raise Gone(
            "this provisioning code has expired: ask for a new one",
            code="provisioning_code_expired",
        )
    raise Conflict("this provisioning code is being claimed", code="provisioning_code_used")


# --- credentials and tokens --------------------------------------------------------------------

_UNAUTHORIZED = "the kiosk credential is invalid, expired or revoked"


async def _authenticate(uow: UnitOfWork, credential: str) -> Any:
    """The credential's row (with its kiosk's gym and franchise) if it may be used now."""
    parsed = parse_credential(credential)
    credential_id, secret = parsed if parsed else (None, "")
    row = None
    if credential_id is not None:
        row = (
            await uow.session.execute(
                select(
                    kiosk_credentials.c.id,
                    kiosk_credentials.c.kiosk_id,
                    kiosk_credentials.c.secret_hash,
                    kiosk_credentials.c.expires_at,
                    and_(
                        kiosk_credentials.c.revoked_at.is_(None),
                        or_(
                            kiosk_credentials.c.expires_at.is_(None),
                            kiosk_credentials.c.expires_at > func.now(),
                        ),
                        kiosks.c.revoked_at.is_(None),
                    ).label("usable"),
                    kiosks.c.gym_id,
                    gyms.c.franchise_id,
                )
                .select_from(
                    kiosk_credentials.join(
                        kiosks, kiosks.c.id == kiosk_credentials.c.kiosk_id
                    ).join(gyms, gyms.c.id == kiosks.c.gym_id)
                )
                .where(kiosk_credentials.c.id == credential_id)
            )
        ).one_or_none()
    matches = hmac.compare_digest(
        row.secret_hash if row is not None else _DUMMY_SECRET_HASH, sha256_hex(secret)
    )
    if row is None or not matches or not row.usable:
        raise Unauthorized(_UNAUTHORIZED, code="invalid_kiosk_credential")
    return row


async def issue_token(
    uow: UnitOfWork, credential: str, *, signer: TokenSigner, ttl_s: int
) -> KioskAccessToken:
    """A short-lived access token for the kiosk holding this credential."""
    row = await _authenticate(uow, credential)
    token, expires_in = signer.sign(
        str(row.kiosk_id),
        KIOSK_AUDIENCE,
        ttl_s,
        gym_id=str(row.gym_id),
        franchise_id=str(row.franchise_id) if row.franchise_id else None,
        cid=str(row.id),
    )
    return KioskAccessToken(access_token=token, expires_in=expires_in)


async def rotate(uow: UnitOfWork, credential: str, *, grace_s: int) -> Rotated:
    """A new credential; the kiosk's other live credentials keep working for `grace_s` more."""
    row = await _authenticate(uow, credential)
    # Serialise with claims, revocations and other rotations of this kiosk, then check again:
    # a revocation may have committed while we waited.
    await uow.session.execute(
        select(kiosks.c.id).where(kiosks.c.id == row.kiosk_id).with_for_update()
    )
    row = await _authenticate(uow, credential)
    if row.expires_at is not None:
        # Only the newest credential rotates. Otherwise whoever holds a leaked, rotated-out
        # credential could mint a fresh one during its grace period and lock the kiosk out.
        raise Conflict(
            "this credential has been rotated out: rotate with the newest one, or have a "
            "manager revoke and re-provision the kiosk",
            code="credential_superseded",
        )
    grace_ends = func.now() + timedelta(seconds=grace_s)
    # Every live credential of the kiosk (the one presented, and any issued by a rotation whose
    # answer the kiosk never received) goes into its grace period; none is extended.
    await uow.session.execute(
        kiosk_credentials.update()
        .where(
            kiosk_credentials.c.kiosk_id == row.kiosk_id,
            kiosk_credentials.c.revoked_at.is_(None),
            or_(
                kiosk_credentials.c.expires_at.is_(None),
                kiosk_credentials.c.expires_at > grace_ends,
            ),
        )
        .values(expires_at=grace_ends)
    )
    previous_expires_at = await uow.session.scalar(
        select(kiosk_credentials.c.expires_at).where(kiosk_credentials.c.id == row.id)
    )
    credential_id, new, secret_hash = new_credential()
    await uow.session.execute(
        kiosk_credentials.insert().values(
            id=credential_id, kiosk_id=row.kiosk_id, secret_hash=secret_hash
        )
    )
    await record_change(
        uow,
        Actor("kiosk", str(row.kiosk_id)),
        "kiosk.credential_rotated",
        "kiosk_credential",
        credential_id,
        gym_id=row.gym_id,
        franchise_id=row.franchise_id,
        before={"credential_id": row.id, "expires_at": row.expires_at},
        after={
            "credential_id": credential_id,
            "kiosk_id": row.kiosk_id,
            "previous_credential_expires_at": previous_expires_at,
        },
    )
    return Rotated(
        kiosk_id=row.kiosk_id, credential=new, previous_credential_expires_at=previous_expires_at
    )


# --- revocation --------------------------------------------------------------------------------


async def revoke(
    uow: UnitOfWork, principal: Principal, kiosk_id: uuid.UUID, reason: str | None
) -> Kiosk:
    """Revoke the kiosk for good: every credential and any outstanding code stop working.

    Idempotent: revoking a revoked kiosk changes nothing and publishes nothing.
    """
    require_role(principal, "super_admin", "franchise_owner", "gym_manager")
    before = await get_kiosk(uow, principal, kiosk_id)  # another tenant's kiosk: 404
    revoked = (
        await uow.session.execute(
            kiosks.update()
            .where(kiosks.c.id == kiosk_id, kiosks.c.revoked_at.is_(None))
            .values(
                revoked_at=func.now(),
                # An outstanding code dies with the kiosk; a used one keeps answering 409.
                provisioning_code_hash=case(
                    (
                        kiosks.c.provisioning_code_expires_at.is_(None),
                        kiosks.c.provisioning_code_hash,
                    ),
                    else_=None,
                ),
                provisioning_code_expires_at=None,
                updated_at=func.now(),
            )
            .returning(kiosks.c.revoked_at)
        )
    ).one_or_none()
    if revoked is None:  # already revoked (the row lock makes a concurrent revoke wait)
        return await get_kiosk(uow, principal, kiosk_id)
    count = await _revoke_credentials(uow, kiosk_id)
    after = await get_kiosk(uow, principal, kiosk_id)
    franchise_id = await _franchise_of(uow, after.gym_id)
    uow.publish(
        KioskRevoked(
            kiosk_id=kiosk_id, gym_id=after.gym_id, revoked_at=revoked.revoked_at, reason=reason
        ),
        gym_id=after.gym_id,
        franchise_id=franchise_id,
    )
    await record_change(
        uow,
        principal.actor,
        "kiosk.revoked",
        "kiosk",
        kiosk_id,
        gym_id=after.gym_id,
        franchise_id=franchise_id,
        before=before,
        after={**after.model_dump(), "reason": reason, "revoked_credentials": count},
    )
    return after


async def _revoke_credentials(uow: UnitOfWork, kiosk_id: uuid.UUID) -> int:
    result = await uow.session.execute(
        kiosk_credentials.update()
        .where(kiosk_credentials.c.kiosk_id == kiosk_id, kiosk_credentials.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(kiosk_credentials.c.id)
    )
    return len(result.all())


async def _franchise_of(uow: UnitOfWork, gym_id: uuid.UUID) -> uuid.UUID | None:
    return await uow.session.scalar(select(gyms.c.franchise_id).where(gyms.c.id == gym_id))
