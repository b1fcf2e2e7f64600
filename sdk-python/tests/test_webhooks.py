"""keyward.webhooks: Standard Webhooks verification through the Rust core.

Messages are signed here with the standard library (``hmac``/``hashlib``/
``base64``), independently of the implementation under test. No server needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple, Union

import keyward
import pytest
from keyward import WebhookVerificationError, webhooks

# The Standard Webhooks reference libraries' test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = b'{"type": "api_key.created", "data": {"id": "01900000-0000-7000-8000-000000000000", "scopes": ["a"]}}'


def stdlib_signature(secret: str, msg_id: str, timestamp: int, payload: bytes, version: str = "v1") -> str:
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    content = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{version},{base64.b64encode(digest).decode()}"


def signed_headers(
    payload: bytes = BODY,
    *,
    secret: str = SECRET,
    msg_id: str = "msg_2bTest",
    timestamp: Optional[int] = None,
    signature: Optional[str] = None,
) -> Dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature if signature is not None else stdlib_signature(secret, msg_id, ts, payload),
    }


def rejected(
    code: str, payload: Union[bytes, str], headers: Any, secret: str = SECRET, **kw: Any
) -> WebhookVerificationError:
    with pytest.raises(WebhookVerificationError) as info:
        webhooks.verify(payload, headers, secret, **kw)
    assert info.value.code == code, str(info.value)
    return info.value


def test_reference_vector() -> None:
    # The stdlib implementation agrees with the published vector...
    assert stdlib_signature(SECRET, MSG_ID, TIMESTAMP, PAYLOAD) == SIGNATURE
    # ...and so does the SDK's signer.
    hook = webhooks.Webhook(SECRET)
    assert hook.sign(MSG_ID, TIMESTAMP, PAYLOAD) == SIGNATURE
    assert hook.sign(MSG_ID, datetime.fromtimestamp(TIMESTAMP, tz=timezone.utc), PAYLOAD.decode()) == SIGNATURE
    naive = datetime.fromtimestamp(TIMESTAMP, tz=timezone.utc).replace(tzinfo=None)  # naive = UTC
    assert hook.sign(MSG_ID, naive, PAYLOAD) == SIGNATURE
    assert webhooks.Webhook(SECRET[len("whsec_"):]).sign(MSG_ID, TIMESTAMP, PAYLOAD) == SIGNATURE
    # The vector's headers verify once the tolerance reaches back to 2021, not before.
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": SIGNATURE}
    rejected("timestamp_too_old", PAYLOAD, headers)
    wide = int(time.time()) - TIMESTAMP + 3600
    assert webhooks.verify(PAYLOAD, headers, SECRET, tolerance_seconds=wide) == {"test": 2432232314}


def test_accepts_a_stdlib_signed_message_and_returns_json() -> None:
    headers = signed_headers()
    event = webhooks.verify(BODY, headers, SECRET)
    assert event == json.loads(BODY)
    assert webhooks.verify(BODY.decode(), headers, SECRET) == event  # str payload
    assert webhooks.verify(bytearray(BODY), headers, SECRET) == event  # type: ignore[arg-type]
    hook = webhooks.Webhook(SECRET)
    assert hook.verify(BODY, headers) == event
    # Non-ASCII bodies are signed as their UTF-8 bytes.
    text = '{"name": "Zoë ☃"}'
    assert hook.verify(text, signed_headers(text.encode())) == {"name": "Zoë ☃"}
    # Any JSON value, not only objects.
    assert hook.verify(b"[1, 2.5, null]", signed_headers(b"[1, 2.5, null]")) == [1, 2.5, None]


def test_tampered_body_is_rejected() -> None:
    headers = signed_headers()
    rejected("no_matching_signature", BODY.replace(b'"a"', b'"admin"'), headers)
    rejected("no_matching_signature", BODY + b" ", headers)
    # Re-serialized JSON is not the signed bytes either.
    rejected("no_matching_signature", json.dumps(json.loads(BODY), separators=(",", ":")), headers)


def test_tampered_id_or_timestamp_is_rejected() -> None:
    headers = signed_headers()
    rejected("no_matching_signature", BODY, {**headers, "webhook-id": "msg_other"})
    ts = int(headers["webhook-timestamp"]) - 1
    rejected("no_matching_signature", BODY, {**headers, "webhook-timestamp": str(ts)})


def test_wrong_secret_is_rejected() -> None:
    other = "whsec_" + base64.b64encode(b"another endpoint's key!!").decode()
    rejected("no_matching_signature", BODY, signed_headers(secret=other))
    rejected("no_matching_signature", BODY, signed_headers(), secret=other)


def test_tolerance_both_ways() -> None:
    now = int(time.time())
    assert webhooks.verify(BODY, signed_headers(timestamp=now - 290), SECRET) == json.loads(BODY)
    assert webhooks.verify(BODY, signed_headers(timestamp=now + 290), SECRET) == json.loads(BODY)
    rejected("timestamp_too_old", BODY, signed_headers(timestamp=now - 310))
    rejected("timestamp_too_new", BODY, signed_headers(timestamp=now + 310))
    # A custom tolerance, for the free function and the class.
    rejected("timestamp_too_old", BODY, signed_headers(timestamp=now - 60), tolerance_seconds=30)
    rejected("timestamp_too_new", BODY, signed_headers(timestamp=now + 60), tolerance_seconds=30)
    assert webhooks.verify(BODY, signed_headers(timestamp=now - 3000), SECRET, tolerance_seconds=3600)
    strict = webhooks.Webhook(SECRET, tolerance_seconds=30)
    assert strict.tolerance_seconds == 30
    with pytest.raises(WebhookVerificationError) as info:
        strict.verify(BODY, signed_headers(timestamp=now - 60))
    assert info.value.code == "timestamp_too_old"
    assert strict.verify(BODY, signed_headers(timestamp=now - 5)) == json.loads(BODY)
    assert webhooks.Webhook(SECRET).tolerance_seconds == webhooks.DEFAULT_TOLERANCE_SECONDS == 300
    with pytest.raises(ValueError):
        webhooks.Webhook(SECRET, tolerance_seconds=-1)


def test_one_valid_signature_among_several() -> None:
    headers = signed_headers()
    good = headers["webhook-signature"]
    old_secret = "whsec_" + base64.b64encode(b"old key").decode()
    wrong = stdlib_signature(old_secret, "msg_2bTest", int(headers["webhook-timestamp"]), BODY)
    listed = {**headers, "webhook-signature": f"{wrong} v1,!!notbase64 {good} v2,AAAA"}
    assert webhooks.verify(BODY, listed, SECRET) == json.loads(BODY)
    only_wrong = {**headers, "webhook-signature": f"{wrong} v1,!!notbase64"}
    rejected("no_matching_signature", BODY, only_wrong)
    # The header given twice (as pairs) is one list.
    pairs = [(k, v) for k, v in headers.items() if k != "webhook-signature"]
    pairs += [("webhook-signature", wrong), ("Webhook-Signature", good)]
    assert webhooks.verify(BODY, pairs, SECRET) == json.loads(BODY)
    # ...also when a framework already joined the repeats with ", ".
    assert webhooks.verify(BODY, {**headers, "webhook-signature": f"{good}, {wrong}"}, SECRET) == json.loads(BODY)


def test_other_signature_versions_are_ignored() -> None:
    headers = signed_headers()
    ts = int(headers["webhook-timestamp"])
    v1a = stdlib_signature(SECRET, "msg_2bTest", ts, BODY, version="v1a")  # the right MAC, other version
    rejected("no_matching_signature", BODY, {**headers, "webhook-signature": v1a})
    both = {**headers, "webhook-signature": f"{v1a} {headers['webhook-signature']}"}
    assert webhooks.verify(BODY, both, SECRET) == json.loads(BODY)


def test_header_names_are_case_insensitive() -> None:
    headers = signed_headers()
    mixed = {"Webhook-Id": headers["webhook-id"], "WEBHOOK-TIMESTAMP": headers["webhook-timestamp"],
             "Webhook-Signature": headers["webhook-signature"]}
    assert webhooks.verify(BODY, mixed, SECRET) == json.loads(BODY)
    pairs: List[Tuple[str, str]] = [(k.upper(), v) for k, v in headers.items()]
    assert webhooks.verify(BODY, pairs, SECRET) == json.loads(BODY)


def test_framework_header_objects() -> None:
    datastructures = pytest.importorskip("starlette.datastructures")
    headers = signed_headers()
    raw = [(k.title().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    starlette_headers = datastructures.Headers(raw=raw)  # what FastAPI's request.headers is
    assert webhooks.verify(BODY, starlette_headers, SECRET) == json.loads(BODY)
    # Raw ASGI header pairs (bytes) work too.
    assert webhooks.verify(BODY, raw, SECRET) == json.loads(BODY)  # type: ignore[arg-type]


def test_missing_and_malformed_headers() -> None:
    headers = signed_headers()
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        without = {k: v for k, v in headers.items() if k != name}
        error = rejected("missing_header", BODY, without)
        assert name in str(error)
        rejected("missing_header", BODY, {**headers, name: ""})
    for bad in ("soon", "1.5", "0x10", "99999999999999999999"):
        rejected("invalid_timestamp", BODY, {**headers, "webhook-timestamp": bad})
    rejected("missing_header", BODY, {})


def test_signed_body_that_is_not_json() -> None:
    body = b"plain text, not JSON"
    error = rejected("invalid_payload", body, signed_headers(body))
    assert "not JSON" in str(error)


def test_invalid_secret_is_a_value_error_that_does_not_echo_it() -> None:
    for secret in ("", "whsec_", "whsec_!!definitely-not-base64-secretpart", "whsec_a"):
        with pytest.raises(ValueError) as info:
            webhooks.Webhook(secret)
        assert "secretpart" not in str(info.value)
        assert not isinstance(info.value, WebhookVerificationError)
    with pytest.raises(ValueError):
        webhooks.verify(BODY, signed_headers(), "whsec_!!")
    with pytest.raises(TypeError):
        webhooks.Webhook(b"whsec_abcd")  # type: ignore[arg-type]


def test_error_class_and_no_secret_in_output() -> None:
    assert issubclass(keyward.WebhookVerificationError, keyward.KeywardError)
    assert keyward.webhooks.WebhookVerificationError is keyward.WebhookVerificationError
    other_secret = "whsec_" + base64.b64encode(b"x" * 24).decode()
    error = rejected("no_matching_signature", BODY, signed_headers(secret=other_secret))
    assert error.message == str(error) == "no matching webhook signature"
    assert SECRET not in repr(error) and SECRET[6:] not in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is WebhookVerificationError and again.code == error.code and again.message == error.message
    hook = webhooks.Webhook(SECRET)
    assert SECRET[6:] not in repr(hook) and repr(hook) == "Webhook(tolerance_seconds=300)"
