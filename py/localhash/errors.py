"""The typed errors localhash reports for one file, and their record shape."""

from __future__ import annotations

# Every code a caller can see. The browser worker and the CLI report the same codes,
# so the page can translate them and a platform can count them.
EMPTY_FILE = "empty_file"
UNSUPPORTED_FORMAT = "unsupported_format"
CORRUPT_IMAGE = "corrupt_image"
# A video whose stream cannot be decoded for vPDQ (natively: PyAV refuses it; vpdq fails such a video whole).
CORRUPT_VIDEO = "corrupt_video"
TOO_LARGE = "too_large"
TOO_SMALL = "too_small"
INVALID_HASH = "invalid_hash"
INTERNAL_ERROR = "internal_error"
# Only the CLI reports these: a path it cannot read, a bad --bank file, bad arguments.
UNREADABLE_FILE = "unreadable_file"
BAD_BANK = "bad_bank"
USAGE = "usage"
# Only the browser reports these (web/MESSAGES.md): the runtime itself failed for that file, or
# could not start.
WORKER_CRASHED = "worker_crashed"
BOOT_FAILED = "boot_failed"

ERROR_CODES = frozenset(
    {EMPTY_FILE, UNSUPPORTED_FORMAT, CORRUPT_IMAGE, CORRUPT_VIDEO, TOO_LARGE, TOO_SMALL, INVALID_HASH, INTERNAL_ERROR}
    | {UNREADABLE_FILE, BAD_BANK, USAGE, WORKER_CRASHED, BOOT_FAILED}
)


class LocalhashError(Exception):
    """A failure that belongs to one input; carries a stable code and a plain message."""

    def __init__(self, code: str, message: str) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message

    def as_record(self) -> dict:
        return {"code": self.code, "message": self.message}
