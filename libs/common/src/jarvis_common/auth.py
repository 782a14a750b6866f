"""Operator authentication for endpoints that exist before user accounts do.

A request must carry `Authorization: Bearer <JARVIS_ADMIN_TOKEN>`. With no token configured,
every such request is refused: an unconfigured deployment is closed, not open.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request

from jarvis_common.errors import Unauthorized


async def require_admin(request: Request) -> None:
    expected = request.app.state.service.platform.admin_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(presented.encode(), expected.encode())
    ):
        raise Unauthorized("a valid operator token is required")


AdminOnly = Depends(require_admin)
