"""Provisioning a kiosk and authenticating it (to be written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["provisioning"])
