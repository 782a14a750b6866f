"""Access tokens: signed by the registry with its Ed25519 key, verified anywhere offline.

The registry holds the private key; every other service needs only the public key
(`JARVIS_TOKEN_PUBLIC_KEY`, or the registry's JWKS), so checking a kiosk's or a user's token
never calls the registry.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
ISSUER = "jarvis-registry"
KIOSK_AUDIENCE = "jarvis-kiosk"
USER_AUDIENCE = "jarvis-dashboard"


class InvalidToken(Exception):
    """Expired, tampered with, for another audience, or not a token at all."""


def generate_private_key_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key_pem(private_key_pem: str) -> str:
    key = _private(private_key_pem)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _private(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the token signing key must be an Ed25519 private key (PEM)")
    return key


def _public(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the token public key must be an Ed25519 public key (PEM)")
    return key


@dataclass(frozen=True)
class TokenSigner:
    private_key_pem: str
    key_id: str = "jarvis-1"

    def sign(self, subject: str, audience: str, ttl_s: int, **claims: Any) -> tuple[str, int]:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        token = jwt.encode(
            payload,
            _private(self.private_key_pem),
            algorithm=ALGORITHM,
            headers={"kid": self.key_id},
        )
        return token, ttl_s

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(
            _private(self.private_key_pem).public_key(), as_dict=True
        )
        return {"keys": [{**jwk, "kid": self.key_id, "alg": ALGORITHM, "use": "sig"}]}


@dataclass(frozen=True)
class TokenVerifier:
    public_key_pem: str

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                _public(self.public_key_pem),
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
