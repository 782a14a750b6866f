"""The error vocabulary every service shares.

`AppError` carries the HTTP status it should be rendered with; services subclass it next to the
code that raises it. `PermanentError` marks a message that will never succeed, however often it
is retried, so it goes straight to the dead-letter topic.
"""

from __future__ import annotations


class AppError(Exception):
    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class PermanentError(Exception):
    """Processing this message can never succeed; do not retry it."""
