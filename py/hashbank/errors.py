"""The API's error shape: `{"error": {"code", "message"}}` with a fitting 4xx status."""

from __future__ import annotations

from starlette.responses import JSONResponse


class ApiError(Exception):
    """A refusal the caller caused (or a limit it hit); becomes one JSON error response."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.headers)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)
