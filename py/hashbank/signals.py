"""The StopNCII vocabulary (signal types, statuses, feedback values) and how ours maps onto it.

Spelled as python-threatexchange 1.2.17 spells them in
`threatexchange/exchanges/clients/stopncii/api.py` (StopNCIISignalType, StopNCIICaseStatus,
StopNCIICSPFeedbackValue), which parses every record with those enums.
"""

from __future__ import annotations

# Our hash type -> the signalType partners see. StopNCII has no image MD5 and no SHA-256:
# an MD5 of a whole file goes out as VideoMD5 (threatexchange reads it as its `video_md5`
# signal, which is exactly a whole-file MD5); SHA-256 is ours alone and goes out only to a
# partner that asks for it (FetchHashes?signalTypes=...,SHA256), since the client's enum would
# reject the record.
# vPDQ (Meta's video PDQ, python-threatexchange's `vpdq` signal) is not in StopNCII's enum either: VideoVPDQ
# records, whose hashValue is VPDQSignal's string (a JSON list of "hex,quality,timestamp"), go only to a
# partner that asks for them.
SIGNAL_TYPE = {"pdq": "ImagePDQ", "md5": "VideoMD5", "sha256": "SHA256", "vpdq": "VideoVPDQ"}
HASH_TYPE = {signal: name for name, signal in SIGNAL_TYPE.items()}
DEFAULT_FEED_TYPES = ("ImagePDQ", "VideoMD5")
FEED_TYPES = ("ImagePDQ", "VideoMD5", "SHA256", "VideoVPDQ")

FEEDBACK_VALUES = (
    "Unknown",
    "None",
    "QualityUnknown",
    "PendingReview",
    "Blocked",
    "NotBlocked",
    "Withdrawn",
    "Deleted",
)
# What the victim is told for a partner's feedback value.
VICTIM_RESULT = {
    "Blocked": "blocked",
    "NotBlocked": "not_blocked",
    "Withdrawn": "not_blocked",  # the platform dropped the hash
    "Deleted": "not_blocked",
}  # anything else (PendingReview, None, Unknown, QualityUnknown) is "pending"


def enum_value(text: str, allowed: tuple[str, ...], enum_name: str) -> str | None:
    """`text` if allowed, also when sent as Python's str() of the enum member
    (`StopNCIISignalType.ImagePDQ`: what the client's SubmitHashes sends), else None."""
    prefix = enum_name + "."
    if text.startswith(prefix):
        member = text[len(prefix) :]
        return "None" if member == "None_" else member if member in allowed else None
    return text if text in allowed else None
