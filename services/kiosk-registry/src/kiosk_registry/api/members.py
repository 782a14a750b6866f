"""Members, imports and check-ins (to be written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["members"])
