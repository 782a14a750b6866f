"""Account passwords: Argon2id at the configured cost; a hash keeps its own parameters."""

from registry_world import CHEAP_PASSWORD_HASHING

from kiosk_registry.auth import Passwords
from kiosk_registry.settings import Settings

PRODUCTION = Settings(_env_file=None)
CHEAP = Settings(_env_file=None, **CHEAP_PASSWORD_HASHING)


async def test_the_default_cost_is_argon2s_recommended_one() -> None:
    stored = await Passwords(PRODUCTION).hash("s3cret")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_a_hash_verifies_whatever_cost_the_verifier_is_configured_with() -> None:
    cheap, production = Passwords(CHEAP), Passwords(PRODUCTION)
    stored = await cheap.hash("s3cret")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert await production.matches(stored, "s3cret")
    assert not await production.matches(stored, "S3cret")
    assert not await cheap.matches(None, "s3cret")  # unknown account: refused, same work
    assert not await cheap.matches("not a hash", "s3cret")
