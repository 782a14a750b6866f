"""The composition root of kiosk-registry: what the service is made of, wired in one place."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from sqlalchemy import select

from jarvis_common.service import ServiceApp, ServiceDefinition
from jarvis_common.settings import PlatformSettings
from jarvis_common.tokens import (
    TokenSigner,
    TokenVerifier,
    generate_private_key_pem,
    public_key_pem,
)
from kiosk_registry import fleet_status
from kiosk_registry.api import auth, dashboards, kiosks, members, provisioning, tenants
from kiosk_registry.auth import Passwords, RegistryContext
from kiosk_registry.gym_announcements import announce_unannounced_gyms
from kiosk_registry.handlers import handlers
from kiosk_registry.settings import Settings
from kiosk_registry.tables import SCHEMA, messaging, metadata, users

log = logging.getLogger(__name__)


def bootstrap(
    platform: PlatformSettings | None = None, settings: Settings | None = None
) -> ServiceApp:
    platform = platform or PlatformSettings()
    settings = settings or Settings()
    app = ServiceApp(SERVICE, platform, port=settings.port)
    app.http.state.registry = _context(platform, settings)
    for router in (
        auth.router,
        tenants.router,
        kiosks.router,
        provisioning.router,
        members.router,
        dashboards.router,
    ):
        app.http.include_router(router)
    app.handlers.include(handlers)
    app.background.append(ensure_bootstrap_admin)
    app.background.append(fleet_status.watch_kiosk_status)
    app.background.append(announce_unannounced_gyms)
    fleet_status.configure(app)
    return app


def _context(platform: PlatformSettings, settings: Settings) -> RegistryContext:
    key = settings.signing_key
    if key is None:
        if platform.environment != "development":
            raise RuntimeError("JARVIS_REGISTRY_SIGNING_KEY is required outside development")
        log.warning("no JARVIS_REGISTRY_SIGNING_KEY: signing with a key made for this process")
        key = generate_private_key_pem()
    return RegistryContext(
        settings, TokenSigner(key), TokenVerifier(public_key_pem(key)), Passwords(settings)
    )


async def ensure_bootstrap_admin(app: ServiceApp) -> None:
    """Create the first super admin from settings, when there is none yet."""
    registry: RegistryContext = app.http.state.registry
    settings = registry.settings
    if not (settings.bootstrap_admin_email and settings.bootstrap_admin_password):
        return
    async with app.db.unit_of_work() as uow:
        exists = await uow.session.scalar(
            select(users.c.id).where(users.c.role == "super_admin").limit(1)
        )
        if exists is None:
            await uow.session.execute(
                users.insert().values(
                    id=uuid.uuid4(),
                    email=settings.bootstrap_admin_email.lower(),
                    role="super_admin",
                    full_name="Bootstrap admin",
                    password_hash=await registry.passwords.hash(settings.bootstrap_admin_password),
                )
            )
            log.info("created the bootstrap super admin %s", settings.bootstrap_admin_email)


SERVICE = ServiceDefinition(
    name="kiosk-registry",
    schema=SCHEMA,
    default_port=8000,
    metadata=metadata,
    messaging=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    bootstrap=bootstrap,
    description="System of record for tenants and the kiosk fleet; the read side dashboards query.",
)
