"""The partner API, read by Meta's own python-threatexchange StopNCII client, unmodified."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
import requests
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIICSPFeedbackValue,
    StopNCIIEndpoint,
    StopNCIISignalType,
)
from threatexchange.exchanges.impl.stop_ncii_api import _get_delta_mapping

from .conftest import hex_of, partner_headers


def client_for(bank, keys: dict[str, str]) -> StopNCIIAPI:
    return StopNCIIAPI(
        keys["subscription_key"],
        keys["function_key"],
        additional_function_keys={StopNCIIEndpoint.SubmitFeedback: keys["function_key"]},
        base_url_override=bank.url + "/v1",
    )


def everything(client: StopNCIIAPI, start: int = StopNCIIAPI.DEFAULT_START_TIME) -> tuple[dict, list]:
    """The client's documented way to read the whole stream: later records replace earlier ones."""
    pages = list(client.fetch_hashes_iter(start_timestamp=start))
    records = {(r.signalType, r.hashValue): r for page in pages for r in page.hashRecords}
    return records, pages


def pdq(i: int) -> dict:
    return {"type": "pdq", "value": hex_of(i, 64), "quality": 100}


def test_the_client_fetches_every_page_and_its_feedback_reaches_the_victim(bank):
    keys = bank.add_partner("Example Platform")
    # 12 cases x 100 hashes = 1,200 records: two pages of the client's default 800.
    cases = [bank.new_case([pdq(c * 100 + i) for i in range(100)]) for c in range(12)]
    md5_case = bank.new_case([{"type": "md5", "value": "e" * 32}, {"type": "sha256", "value": "f" * 64}])
    client = client_for(bank, keys)
    records, pages = everything(client)

    assert [len(p.hashRecords) for p in pages] == [800, 401]
    assert [p.hasMoreRecords for p in pages] == [True, False]
    assert len(records) == 1201  # SHA-256 is not in the StopNCII enum: not sent unless asked for
    md5 = records[(StopNCIISignalType.VideoMD5, "e" * 32)]
    assert md5.hashStatus == StopNCIICaseStatus.Active
    for record in records.values():
        (case_key,) = record.caseNumbers
        assert str(uuid.UUID(case_key)) == case_key  # an internal UUID ...
        assert case_key not in cases + [md5_case]  # ... never the victim's case number
        assert record.caseNumbers[case_key] == StopNCIICaseStatus.Active
    assert all(record.lastModtimestamp > 0 for record in records.values())

    # Fetching activated every case; then the platform blocks one hash and reviews another.
    assert bank.status(cases[0]).json()["status"] == "active"
    client.submit_feedback(StopNCIISignalType.ImagePDQ, hex_of(0, 64), StopNCIICSPFeedbackValue.Blocked, {"ncii"})
    client.submit_feedback(StopNCIISignalType.ImagePDQ, hex_of(1, 64), StopNCIICSPFeedbackValue.PendingReview)
    client.submit_feedback(StopNCIISignalType.VideoMD5, "e" * 32, StopNCIICSPFeedbackValue.NotBlocked)
    hashes = bank.status(cases[0]).json()["hashes"]
    first, second = hashes[0]["feedback"], hashes[1]["feedback"]
    assert first[0]["partner"] == "Example Platform" and first[0]["result"] == "blocked"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first[0]["at"])
    assert second[0]["result"] == "pending" and second[0]["at"] is not None
    assert bank.status(md5_case).json()["hashes"][0]["feedback"][0]["result"] == "not_blocked"

    # The feedback is part of the record: the next fetch from the checkpoint carries it.
    again, _ = everything(client, pages[-1].nextSetTimestamp)
    feedback = again[(StopNCIISignalType.ImagePDQ, hex_of(0, 64))].CSPFeedbacks
    assert [(f.source, f.feedbackValue, f.tags) for f in feedback] == [
        ("Example Platform", StopNCIICSPFeedbackValue.Blocked, {"ncii"})
    ]


def test_withdrawn_hashes_come_back_as_withdrawn_unless_another_case_holds_them(bank):
    keys = bank.add_partner()
    shared, own = pdq(1), pdq(2)
    withdrawn = bank.new_case([shared, own])
    keeper = bank.new_case([shared])
    client = client_for(bank, keys)
    _, pages = everything(client)
    checkpoint = pages[-1].nextSetTimestamp
    assert bank.withdraw(withdrawn).status_code == 200

    records, _ = everything(client, checkpoint)
    gone = records[(StopNCIISignalType.ImagePDQ, own["value"])]
    kept = records[(StopNCIISignalType.ImagePDQ, shared["value"])]
    assert gone.hashStatus == StopNCIICaseStatus.Withdrawn
    assert list(gone.caseNumbers.values()) == [StopNCIICaseStatus.Withdrawn]
    assert kept.hashStatus == StopNCIICaseStatus.Active
    assert sorted(s.value for s in kept.caseNumbers.values()) == ["Active", "Withdrawn"]

    # Known bug in threatexchange 1.2.17 (exchanges/impl/stop_ncii_api.py, _get_delta_mapping):
    # it compares record.hashValue, not record.hashStatus, with Withdrawn/Deleted, so a
    # withdrawn hash is never deleted on the platform's side. We send hashStatus correctly;
    # platforms must check it themselves (README).
    assert _get_delta_mapping(gone)[1] is not None  # the client keeps it: the bug is still there
    assert bank.status(keeper).json()["status"] == "active"

    bank.withdraw(keeper)
    records, _ = everything(client, checkpoint)
    assert records[(StopNCIISignalType.ImagePDQ, shared["value"])].hashStatus == StopNCIICaseStatus.Withdrawn


def test_a_resubmitted_hash_is_published_again_with_both_cases(bank):
    keys = bank.add_partner()
    bank.withdraw(bank.new_case([pdq(7)]))
    bank.new_case([{**pdq(7), "value": hex_of(7, 64).upper()}])
    records, _ = everything(client_for(bank, keys))
    record = records[(StopNCIISignalType.ImagePDQ, hex_of(7, 64))]
    assert record.hashStatus == StopNCIICaseStatus.Active and len(record.caseNumbers) == 2


def test_each_hash_keeps_what_it_is_of_for_partners_and_the_victim(bank):
    """A variant is delivered with its kind (caseKinds, per case: one hash can be an original in one
    case and a variant in another), the StopNCII client still reads every record, and the victim's
    status names the kind of each hash."""
    keys = bank.add_partner()
    shared = hex_of(5, 64)
    first = bank.new_case(
        [
            {**pdq(1), "kind": "original"},
            {**pdq(2), "kind": "rot90"},
            {"type": "pdq", "value": shared, "quality": 80, "kind": "fit_9x16_blur"},
            {"type": "md5", "value": "d" * 32},
        ]
    )
    second = bank.new_case([{"type": "pdq", "value": shared, "quality": 80, "kind": "original"}, pdq(3)])
    raw = bank.fetch(keys).json()["hashRecords"]
    by_value = {r["hashValue"]: r for r in raw}
    assert list(by_value[hex_of(1, 64)]["caseKinds"].values()) == ["original"]
    assert list(by_value[hex_of(2, 64)]["caseKinds"].values()) == ["rot90"]
    assert sorted(by_value[shared]["caseKinds"].values()) == ["fit_9x16_blur", "original"]
    assert set(by_value[shared]["caseKinds"]) == set(by_value[shared]["caseNumbers"])  # the same case UUIDs
    assert by_value[hex_of(3, 64)]["caseKinds"] == {} and by_value["d" * 32]["caseKinds"] == {}

    records, _ = everything(client_for(bank, keys))  # Meta's client, unmodified, ignores the addition
    assert {r.hashValue for r in records.values()} == set(by_value)

    kinds = {h["value"]: h.get("kind") for h in bank.status(first).json()["hashes"]}
    assert kinds == {hex_of(1, 64): "original", hex_of(2, 64): "rot90", shared: "fit_9x16_blur", "d" * 32: None}
    kinds = {h["value"]: h.get("kind") for h in bank.status(second).json()["hashes"]}
    assert kinds == {shared: "original", hex_of(3, 64): None}


def test_keys(bank):
    keys = bank.add_partner("Platform")
    bank.new_case()
    assert bank.fetch(keys).status_code == 200
    missing = bank.http.get(bank.url + "/v1/FetchHashes")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    only_one = bank.http.get(bank.url + "/v1/FetchHashes", headers={"x-functions-key": keys["function_key"]})
    assert only_one.status_code == 401
    wrong_function = {**keys, "function_key": keys["subscription_key"]}
    assert bank.fetch(wrong_function).status_code == 401
    wrong_subscription = {**keys, "subscription_key": keys["function_key"]}
    assert bank.fetch(wrong_subscription).status_code == 401
    feedback = {"count": 1, "hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked"}]}
    assert bank.post("/v1/SubmitFeedback", feedback).status_code == 401

    from hashbank.partners import revoke_partner
    from hashbank.store import Store

    store = Store(bank.config.database, read_threads=1)
    revoke_partner(store, "Platform")
    store.close()
    revoked = bank.fetch(keys)
    assert revoked.status_code == 403 and revoked.json()["error"]["code"] == "revoked"
    assert bank.post("/v1/SubmitFeedback", feedback, headers=partner_headers(keys)).status_code == 403
    with pytest.raises(requests.HTTPError) as raised:
        client_for(bank, keys).fetch_hashes()
    assert raised.value.response.status_code == 403


def test_pages_are_disjoint_complete_and_stable_under_writes(bank):
    keys = bank.add_partner()
    for c in range(5):
        bank.new_case([pdq(c * 10 + i) for i in range(10)])
    seen, token, pages = [], None, 0
    while True:
        params = {"startTimestamp": 10, "pageSize": 7, **({"nextPageToken": token} if token else {})}
        page = bank.fetch(keys, **params).json()
        pages += 1
        assert page["count"] == len(page["hashRecords"]) <= 7
        seen += [r["hashValue"] for r in page["hashRecords"]]
        if pages == 2:  # a new case arrives mid-walk: it is delivered at the end of this walk
            bank.new_case([pdq(999)])
        if not page["hasMoreRecords"]:
            assert page["nextPageToken"] is None
            break
        token = page["nextPageToken"]
    assert len(seen) == len(set(seen)) == 51
    stamps = [r["lastModtimestamp"] for r in bank.fetch(keys, pageSize=1000).json()["hashRecords"]]
    assert stamps == sorted(stamps)


def test_fetch_parameters(bank):
    keys = bank.add_partner()
    bank.new_case([pdq(1), {"type": "sha256", "value": "f" * 64}])
    future = bank.fetch(keys, startTimestamp=2**40).json()
    assert future["count"] == 0 and future["hasMoreRecords"] is False and future["nextSetTimestamp"] == 2**40
    everything_ = bank.fetch(keys, pageSize=10**9).json()  # served as the largest page
    assert everything_["count"] == 1
    with_sha = bank.fetch(keys, signalTypes="ImagePDQ,SHA256").json()
    assert sorted(r["signalType"] for r in with_sha["hashRecords"]) == ["ImagePDQ", "SHA256"]
    for bad in (
        {"pageSize": 0},
        {"pageSize": "ten"},
        {"startTimestamp": -1},
        {"nextPageToken": "not-a-token"},
        {"signalTypes": "ImagePDQ,Video"},
    ):
        response = bank.fetch(keys, **bad)
        assert response.status_code == 400, bad
        assert set(response.json()["error"]) == {"code", "message"}


def test_checkpoint_stays_behind_recent_writes(bank):
    keys = bank.add_partner()
    bank.new_case()
    page = bank.fetch(keys, startTimestamp=10).json()
    newest = page["hashRecords"][-1]["lastModtimestamp"]
    # Never past a second in which a write may still commit: a later fetch from the checkpoint
    # sees everything again rather than miss something.
    assert 10 <= page["nextSetTimestamp"] <= newest


def test_feedback_tolerates_the_clients_enum_strings_and_reports_unknown_hashes(bank):
    keys = bank.add_partner("P")
    number = bank.new_case([pdq(5)])
    body = {
        "count": 2,
        "hashFeedbacks": [
            # python-threatexchange's SubmitHashes sends str(enum) ("StopNCIISignalType.ImagePDQ")
            # instead of its value; we accept both spellings.
            {
                "hashValue": hex_of(5, 64).upper(),
                "signalType": "StopNCIISignalType.ImagePDQ",
                "feedbackValue": "Blocked",
            },
            {"hashValue": "9" * 64, "feedbackValue": "StopNCIICSPFeedbackValue.NotBlocked", "tags": ["a", "a"]},
        ],
    }
    response = bank.post("/v1/SubmitFeedback", body, headers=partner_headers(keys))
    assert response.status_code == 200
    assert response.json() == {"count": 1, "notFound": ["9" * 64]}
    assert bank.status(number).json()["hashes"][0]["feedback"][0]["result"] == "blocked"
    # Partner-chosen text reaches other partners intact (the feed's JSON is assembled by hand).
    odd = ['quote " and \\ backslash', "ünïcödé ✓", "</script>"]
    body = {"hashFeedbacks": [{"hashValue": hex_of(5, 64), "feedbackValue": "Blocked", "tags": odd}]}
    assert bank.post("/v1/SubmitFeedback", body, headers=partner_headers(keys)).status_code == 200
    (record,) = bank.fetch(keys).json()["hashRecords"]
    assert record["CSPFeedbacks"] == [{"source": "P", "feedbackValue": "Blocked", "tags": sorted(odd)}]


@pytest.mark.parametrize(
    "body",
    [
        {"count": 2, "hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 63, "feedbackValue": "Blocked"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Liked"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked", "signalType": "PDQ"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked", "tags": "x"}]},
        {"hashFeedbacks": [{"hashValue": "a" * 64, "feedbackValue": "Blocked", "extra": 1}]},
        {"hashFeedbacks": "all"},
        {"feedback": []},
    ],
)
def test_feedback_is_validated(bank, body):
    keys = bank.add_partner()
    response = bank.post("/v1/SubmitFeedback", body, headers=partner_headers(keys))
    assert response.status_code == 400, response.text


def test_partner_keys_and_case_numbers_are_not_stored_in_plain(bank):
    import pathlib

    keys = bank.add_partner("Stored")
    number = bank.new_case(pin="97531864")
    if not bank.config.database.startswith("postgresql"):
        raw = b"".join(p.read_bytes() for p in pathlib.Path(bank.config.database).parent.glob("bank.sqlite3*"))
        for secret in (keys["subscription_key"], keys["function_key"], number, number.replace("-", ""), "97531864"):
            assert secret.encode() not in raw
        assert b"Stored" in raw  # the file is readable: the search above is not vacuous
    else:
        from hashbank.store import Store

        store = Store(bank.config.database, read_threads=1)
        dump = str(store.read_sync(lambda tx: [tx.all(f"SELECT * FROM {t}") for t in ("cases", "partners", "hashes")]))
        store.close()
        for secret in (keys["subscription_key"], keys["function_key"], number, "97531864"):
            assert secret not in dump
        assert "Stored" in dump


def test_rotated_keys_replace_the_old_ones_at_once_and_the_partner_keeps_its_feedback(bank):
    """`partner rotate` (a leaked key, a departing engineer): the same partner, its feedback still its own,
    under new keys; the old ones are unknown from that commit on. A revoked partner stays revoked."""
    from hashbank.partners import list_partners, revoke_partner, rotate_partner
    from hashbank.store import Store

    old = bank.add_partner("Platform")
    other = bank.add_partner("Other")
    number = bank.new_case([pdq(1)])
    client_for(bank, old).submit_feedback(
        StopNCIISignalType.ImagePDQ, hex_of(1, 64), StopNCIICSPFeedbackValue.Blocked, {"ncii"}
    )
    store = Store(bank.config.database, read_threads=1)
    try:
        new = rotate_partner(store, "Platform")
        listed = list_partners(store)
    finally:
        store.close()

    assert set(new) == {"name", "subscription_key", "function_key"} and new["name"] == "Platform"
    assert {new["subscription_key"], new["function_key"]}.isdisjoint({old["subscription_key"], old["function_key"]})
    for stale in (old, {**new, "function_key": old["function_key"]}, {**old, "function_key": new["function_key"]}):
        refused = bank.fetch(stale)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    body = {"hashFeedbacks": [{"hashValue": hex_of(1, 64), "feedbackValue": "NotBlocked"}]}
    assert bank.post("/v1/SubmitFeedback", body, headers=partner_headers(old)).status_code == 401
    assert [(p["name"], p["revoked"]) for p in listed] == [("Other", None), ("Platform", None)]  # one row, in force

    # The feedback given under the old keys is still the partner's, for the victim and in the feed.
    records, _ = everything(client_for(bank, new))
    feedback = records[(StopNCIISignalType.ImagePDQ, hex_of(1, 64))].CSPFeedbacks
    assert [(f.source, f.feedbackValue) for f in feedback] == [("Platform", StopNCIICSPFeedbackValue.Blocked)]
    seen = {f["partner"]: f["result"] for f in bank.status(number).json()["hashes"][0]["feedback"]}
    assert seen == {"Platform": "blocked", "Other": "pending"}
    # New feedback under the new keys replaces it: the same partner, not a second one.
    assert bank.post("/v1/SubmitFeedback", body, headers=partner_headers(new)).status_code == 200
    seen = {f["partner"]: f["result"] for f in bank.status(number).json()["hashes"][0]["feedback"]}
    assert seen == {"Platform": "not_blocked", "Other": "pending"}
    assert bank.rows("feedback") == 1
    assert bank.fetch(other).status_code == 200  # another partner's keys are untouched

    store = Store(bank.config.database, read_threads=1)
    try:
        with pytest.raises(ValueError, match="no partner named 'Nobody'"):
            rotate_partner(store, "Nobody")
        revoke_partner(store, "Platform")
        with pytest.raises(ValueError, match="with keys in force"):
            rotate_partner(store, "Platform")  # revocation is final: rotate does not bring a partner back
    finally:
        store.close()
    assert bank.fetch(new).status_code == 403


def test_videos_vpdq_reaches_only_partners_that_ask_and_matches_with_metas_code(bank, monkeypatch):
    """A vPDQ goes out as VideoVPDQ, only to a partner asking for it (Meta's StopNCII client, reading the
    default types, never sees one and parses everything else); its hashValue is VPDQSignal's own string,
    which Meta's matcher matches against the same video; feedback names it by hashValueSha256; a page stops
    before its vPDQ bodies pass the byte budget, and the pages still hold every record once."""
    import json

    from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq, vpdq_to_json

    from hashbank import partners

    from .test_victims import vpdq_frames

    keys = bank.add_partner()
    videos = [vpdq_frames(200, seed) for seed in range(5)]  # Meta's brute matcher is quadratic in frames
    cases = [bank.new_case([{"type": "vpdq", "value": frames}, pdq(seed)]) for seed, frames in enumerate(videos)]

    records, _ = everything(client_for(bank, keys))
    assert {r.signalType for r in records.values()} == {StopNCIISignalType.ImagePDQ} and len(records) == 5

    budget = 3 * len(vpdq_to_json(json_to_vpdq(json.dumps(videos[0]))))
    monkeypatch.setattr(partners, "MAX_PAGE_BODY_BYTES", budget)
    pages, token = [], None
    while True:
        params = {"signalTypes": "VideoVPDQ", **({"nextPageToken": token} if token else {})}
        page = bank.fetch(keys, **params).json()
        pages.append(page["hashRecords"])
        if not page["hasMoreRecords"]:
            break
        token = page["nextPageToken"]
    assert [len(p) for p in pages] == [3, 2]
    delivered = [r for p in pages for r in p]
    for frames, record in zip(videos, delivered, strict=True):
        assert record["signalType"] == "VideoVPDQ"
        assert record["hashValue"] == vpdq_to_json(
            json_to_vpdq(json.dumps([f.lower() for f in frames]))
        )  # hex lowercased, as the bank keeps every hash
        assert record["hashValueSha256"] == hashlib.sha256(record["hashValue"].encode()).hexdigest()
        assert VPDQSignal.compare_hash(record["hashValue"], VPDQSignal.validate_signal_str(record["hashValue"])).match
    assert not VPDQSignal.compare_hash(delivered[0]["hashValue"], delivered[1]["hashValue"]).match

    answer = bank.http.post(
        bank.url + "/v1/SubmitFeedback",
        json={"hashFeedbacks": [{"hashValue": delivered[0]["hashValueSha256"], "feedbackValue": "Blocked"}]},
        headers=partner_headers(keys),
    ).json()
    assert answer == {"count": 1, "notFound": []}
    video = next(h for h in bank.status(cases[0]).json()["hashes"] if h["type"] == "vpdq")
    assert video["feedback"][0]["result"] == "blocked"
    bank.withdraw(cases[1])
    monkeypatch.undo()  # the whole budget again: one page
    again = bank.fetch(keys, signalTypes="VideoVPDQ", startTimestamp=delivered[-1]["lastModtimestamp"]).json()
    withdrawn = [r for r in again["hashRecords"] if r["hashValueSha256"] == delivered[1]["hashValueSha256"]]
    assert withdrawn[0]["hashStatus"] == "Withdrawn"
