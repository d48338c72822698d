"""The OpenAPI 3.1 document served at /api/openapi.json, written by hand to match the handlers."""

from __future__ import annotations

from typing import Any

from .credentials import CASE_NUMBER_LENGTH
from .partners import MAX_FEEDBACKS, MAX_TAG_LENGTH, MAX_TAGS
from .signals import FEED_TYPES, FEEDBACK_VALUES
from .validation import CONSENTS, HASH_KINDS, MAX_HASHES, MAX_VPDQ_FRAMES

HEX = {"pdq": 64, "md5": 32, "sha256": 64}
CASE_STATUSES = ["received", "active", "withdrawn"]
STOPNCII_CASE_STATUSES = ["Received", "Active", "Withdrawn", "Deleted"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    words = {
        400: "malformed or invalid request (unknown field, wrong hex length, ...)",
        401: "missing or wrong partner keys",
        403: "wrong PIN, or revoked partner keys",
        404: "no such case",
        409: "Idempotency-Key reused for a different submission",
        413: "request body over the limit",
        415: "body is not application/json",
        422: "a consent is not true",
        429: "rate limited or locked after wrong PINs; see Retry-After",
        503: "the database did not answer in time",
    }
    return {str(s): _json(_ref("Error"), words[s]) for s in statuses}


def _hash_schema(kind: str) -> dict:
    properties: dict[str, Any] = {
        "type": {"const": kind},
        "value": {"type": "string", "pattern": f"^[0-9a-fA-F]{{{HEX[kind]}}}$"},
    }
    if kind == "pdq":
        properties["quality"] = {"type": "integer", "minimum": 0, "maximum": 100}
        properties["kind"] = KIND
    return {"type": "object", "additionalProperties": False, "required": ["type", "value"], "properties": properties}


PIN = {"type": "string", "pattern": "^[0-9]{6,32}$", "description": "6 to 32 digits"}
VPDQ_HASH = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "value"],
    "properties": {
        "type": {"const": "vpdq"},
        "value": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_VPDQ_FRAMES,
            "description": 'a video\'s vPDQ as python-threatexchange serialises it, "hex,quality,timestamp" a frame',
            "items": {"type": "string", "pattern": "^[0-9a-fA-F]{64},[0-9]{1,3},[0-9.e+]+$"},
        },
    },
}
KIND = {
    "enum": sorted(HASH_KINDS),
    "description": "what the PDQ hash is of: the picture as shown (original), as stored before its EXIF turn"
    " (oriented), turned or mirrored (rot90, flipx, ...), or placed in an app's frame (fit_9x16_bars, fill_1x1, ...)",
}
PIN_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "additionalProperties": False, "required": ["pin"], "properties": {"pin": PIN}}
        }
    },
}
CASE_PARAMETER = {
    "name": "case",
    "in": "path",
    "required": True,
    "description": f"the case number: {CASE_NUMBER_LENGTH} Crockford base32 characters, dashes and spaces ignored",
    "schema": {"type": "string"},
}
PARTNER_SECURITY = [{"subscriptionKey": [], "functionKey": []}]

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "NewCase": {
        "type": "object",
        "additionalProperties": False,
        "required": ["pin", "hashes", "consent"],
        "properties": {
            "pin": PIN,
            "hashes": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_HASHES,
                "items": {"oneOf": [*(_hash_schema(kind) for kind in HEX), VPDQ_HASH]},
            },
            "consent": {
                "type": "object",
                "additionalProperties": False,
                "required": list(CONSENTS),
                "properties": {key: {"const": True} for key in CONSENTS},
            },
        },
    },
    "CaseCreated": {
        "type": "object",
        "additionalProperties": False,
        "required": ["case_number"],
        "properties": {"case_number": {"type": "string", "examples": ["7KQ4-M2XD-9HBN-R3TW-5FZC"]}},
    },
    "CaseStatus": {
        "type": "object",
        "additionalProperties": False,
        "required": ["case_number", "status", "status_changed", "hashes"],
        "properties": {
            "case_number": {"type": "string"},
            "status": {"enum": CASE_STATUSES},
            "status_changed": {"type": "string", "format": "date-time"},
            "hashes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type", "value", "feedback"],
                    "properties": {
                        "type": {"enum": [*HEX, "vpdq"]},
                        "value": {"type": "string"},
                        "quality": {"type": "integer"},
                        "kind": KIND,
                        "frames": {"type": "integer", "description": "vpdq: how many frames (value is their SHA-256)"},
                        "feedback": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["partner", "result", "at"],
                                "properties": {
                                    "partner": {"type": "string"},
                                    "result": {"enum": ["blocked", "not_blocked", "pending"]},
                                    "at": {"type": ["string", "null"], "format": "date-time"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Withdrawn": {
        "type": "object",
        "additionalProperties": False,
        "required": ["case_number", "status", "status_changed"],
        "properties": {
            "case_number": {"type": "string"},
            "status": {"const": "withdrawn"},
            "status_changed": {"type": "string", "format": "date-time"},
        },
    },
    "HashRecord": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "lastModtimestamp",
            "signalType",
            "hashValue",
            "hashStatus",
            "caseNumbers",
            "caseKinds",
            "CSPFeedbacks",
        ],
        "properties": {
            "lastModtimestamp": {"type": "integer"},
            "signalType": {"enum": list(FEED_TYPES)},
            "hashValue": {"type": "string"},
            "hashStatus": {"enum": STOPNCII_CASE_STATUSES},
            "caseNumbers": {
                "type": "object",
                "description": "internal case UUID -> that case's status (never a victim's case number)",
                "additionalProperties": {"enum": STOPNCII_CASE_STATUSES},
            },
            "hashValueSha256": {
                "type": "string",
                "description": "VideoVPDQ only: the SHA-256 of hashValue, which names it in SubmitFeedback",
            },
            "caseKinds": {
                "type": "object",
                "description": "localhash's addition (StopNCII's client ignores it): internal case UUID -> what this"
                " hash is of in that case, for the cases that said (older cases did not)",
                "additionalProperties": KIND,
            },
            "CSPFeedbacks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["source", "feedbackValue", "tags"],
                    "properties": {
                        "source": {"type": "string"},
                        "feedbackValue": {"enum": list(FEEDBACK_VALUES)},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "FetchHashesResponse": {
        "type": "object",
        "additionalProperties": False,
        "required": ["count", "nextPageToken", "nextSetTimestamp", "hasMoreRecords", "hashRecords"],
        "properties": {
            "count": {"type": "integer"},
            "nextPageToken": {"type": ["string", "null"]},
            "nextSetTimestamp": {"type": "integer"},
            "hasMoreRecords": {"type": "boolean"},
            "hashRecords": {"type": "array", "items": _ref("HashRecord")},
        },
    },
    "Feedbacks": {
        "type": "object",
        "additionalProperties": False,
        "required": ["hashFeedbacks"],
        "properties": {
            "count": {"type": "integer", "description": "must equal the number of hashFeedbacks"},
            "hashFeedbacks": {
                "type": "array",
                "maxItems": MAX_FEEDBACKS,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["hashValue", "feedbackValue"],
                    "properties": {
                        "hashValue": {"type": "string", "pattern": "^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$"},
                        "signalType": {"enum": list(FEED_TYPES)},
                        "feedbackValue": {"enum": list(FEEDBACK_VALUES)},
                        "tags": {
                            "type": "array",
                            "maxItems": MAX_TAGS,
                            "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH},
                        },
                    },
                },
            },
        },
    },
    "FeedbackResult": {
        "type": "object",
        "additionalProperties": False,
        "required": ["count", "notFound"],
        "properties": {
            "count": {"type": "integer", "description": "feedbacks applied"},
            "notFound": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def document() -> dict[str, Any]:
    case_ops = (400, 403, 404, 413, 415, 429)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "localhash hash bank",
            "version": "1",
            "description": "Victim API under /api/v1; partner API in the StopNCII shape under /v1;"
            " /healthz and /metrics for the operator.",
        },
        "paths": {
            "/api/v1/cases": {
                "post": {
                    "operationId": "createCase",
                    "summary": "Submit hashes (never images) and get a case number",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "a retry with the same key and body answers with the same case",
                            "schema": {"type": "string", "pattern": "^[!-~]{16,200}$"},
                        }
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewCase")}}},
                    "responses": {
                        "201": _json(_ref("CaseCreated"), "the case is stored (committed)"),
                        **_errors(400, 409, 413, 415, 422, 429),
                    },
                }
            },
            "/api/v1/cases/{case}/status": {
                "post": {
                    "operationId": "caseStatus",
                    "summary": "The case's status and each partner's feedback on each hash",
                    "parameters": [CASE_PARAMETER],
                    "requestBody": PIN_BODY,
                    "responses": {"200": _json(_ref("CaseStatus"), "the case"), **_errors(*case_ops)},
                }
            },
            "/api/v1/cases/{case}/withdraw": {
                "post": {
                    "operationId": "withdrawCase",
                    "summary": "Withdraw the case; its hashes leave the partner feed",
                    "parameters": [CASE_PARAMETER],
                    "requestBody": PIN_BODY,
                    "responses": {"200": _json(_ref("Withdrawn"), "withdrawn"), **_errors(*case_ops)},
                }
            },
            "/v1/FetchHashes": {
                "get": {
                    "operationId": "FetchHashes",
                    "summary": "Hash records changed since startTimestamp, oldest first, one page at a time",
                    "security": PARTNER_SECURITY,
                    "parameters": [
                        {
                            "name": "startTimestamp",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 999999999999999999},
                        },
                        {
                            "name": "pageSize",
                            "in": "query",
                            "description": "default 800; larger values are served as 1000",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 999999999999999999},
                        },
                        {"name": "nextPageToken", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "signalTypes",
                            "in": "query",
                            "description": "comma-separated; default ImagePDQ,VideoMD5 (SHA256 only when asked)",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": _json(_ref("FetchHashesResponse"), "a page"), **_errors(400, 401, 403)},
                }
            },
            "/v1/SubmitFeedback": {
                "post": {
                    "operationId": "SubmitFeedback",
                    "summary": "A platform's verdict on hashes; victims see it in their status",
                    "security": PARTNER_SECURITY,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Feedbacks")}}},
                    "responses": {
                        "200": _json(_ref("FeedbackResult"), "applied"),
                        **_errors(400, 401, 403, 413, 415),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Whether the database answers a read and a write transaction within 2 s",
                    "responses": {
                        "200": _json({"const": {"ok": True}}, "the database answers"),
                        **_errors(503),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Counts and latencies, Prometheus text; 404 unless HASHBANK_METRICS_TOKEN is set",
                    "security": [{"metricsToken": []}],
                    "responses": {
                        "200": {
                            "description": "the exposition",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _json(_ref("Error"), "missing or wrong token"),
                        "404": _json(_ref("Error"), "metrics are off: no token is set"),
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "subscriptionKey": {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key"},
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "metricsToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }
