"""The errors of an import that refuse the whole file."""

from __future__ import annotations

from jarvis_common.errors import AppError

# --- errors ------------------------------------------------------------------------------------


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class InvalidImport(AppError):
    """The file as a whole cannot be read: nothing of it is imported."""

    status_code = 422
    code = "invalid_import"
