"""keyward from Python with nothing but a generic generator.

`cargo xtask test --only ecosystem` (xtask/src/ecosystem.rs) generates the
package `keyward_client` from openapi/keyward.json with openapi-python-client
into the target dir, puts it on PYTHONPATH and runs this script against a real
server (KEYWARD_BASE_URL, KEYWARD_API_KEY): create a key, get it, list, verify,
revoke, checking every answer. A spec change that would break a Python user of
a generated client fails here first. Every check raises; the exit status says
whether all held.
"""

from __future__ import annotations

import os
import uuid
from http import HTTPStatus
from typing import Any

from keyward_client import AuthenticatedClient
from keyward_client.api.api_keys import create_api_key, get_api_key, list_api_keys, revoke_api_key
from keyward_client.api.keys import verify_key
from keyward_client.models import (
    ApiKey,
    CreateApiKeyRequest,
    CreateApiKeyRequestMeta,
    CreatedApiKey,
    ErrorBody,
    VerifyCode,
    VerifyKeyRequest,
    VerifyKeyResponse,
    VerifyKeyResponseMeta,
)
from keyward_client.types import Response


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"check failed: {what}")


def parsed(call: str, response: Response[Any], status: HTTPStatus, kind: type) -> Any:
    """The parsed body of `response`, which must have `status` and be a `kind`."""
    if response.status_code != status or not isinstance(response.parsed, kind):
        raise SystemExit(f"{call} answered {int(response.status_code)}: {response.content!r}")
    return response.parsed


def main() -> None:
    client = AuthenticatedClient(base_url=os.environ["KEYWARD_BASE_URL"], token=os.environ["KEYWARD_API_KEY"])

    # Create: `meta` is its own free-form model (`additionalProperties: true`).
    request = CreateApiKeyRequest(
        name="python ecosystem example",
        scopes=["reports:read"],
        meta=CreateApiKeyRequestMeta.from_dict({"customer_id": "cus_123"}),
    )
    created: CreatedApiKey = parsed(
        "POST /v1/api-keys",
        create_api_key.sync_detailed(client=client, body=request),
        HTTPStatus.CREATED,
        CreatedApiKey,
    )
    check(created.meta["customer_id"] == "cus_123", "the created key carries its meta")
    check(created.key.startswith(created.key_prefix), "the plaintext starts with the key's display prefix")
    print(f"created {created.id} ({created.key_prefix}…)")

    # Get: masked, the same key.
    fetched: ApiKey = parsed(
        "GET /v1/api-keys/{id}",
        get_api_key.sync_detailed(created.id, client=client),
        HTTPStatus.OK,
        ApiKey,
    )
    check(fetched.id == created.id and fetched.name == "python ecosystem example", "get returns the key")
    check(fetched.is_active and fetched.meta["customer_id"] == "cus_123", "active, with its meta")
    check(fetched.last4 == created.key[-4:], "last4 is the plaintext's last four characters")

    # List: newest first, so the key just created is on the first page.
    listed = parsed("GET /v1/api-keys", list_api_keys.sync_detailed(client=client, limit=10), HTTPStatus.OK, list)
    check(all(isinstance(item, ApiKey) for item in listed), "the list holds ApiKey models")
    check(any(item.id == created.id for item in listed), "the new key is listed")
    print(f"listed {len(listed)} key(s)")

    # Verify: what a backend calls on every request it guards.
    verified: VerifyKeyResponse = parsed(
        "POST /v1/keys/verify",
        verify_key.sync_detailed(
            client=client, body=VerifyKeyRequest(key=created.key, required_scopes=["reports:read"])
        ),
        HTTPStatus.OK,
        VerifyKeyResponse,
    )
    check(verified.valid and verified.code == VerifyCode.VALID, f"the key verifies ({verified.code})")
    check(verified.key_id == created.id, "verify names the key")
    # `meta` is a nullable free-form object: its own model (`…Meta`, from its title), or None.
    meta = verified.meta
    check(isinstance(meta, VerifyKeyResponseMeta) and meta["customer_id"] == "cus_123", "verify returns the meta")
    lacking: VerifyKeyResponse = parsed(
        "POST /v1/keys/verify",
        verify_key.sync_detailed(
            client=client, body=VerifyKeyRequest(key=created.key, required_scopes=["billing:charge"])
        ),
        HTTPStatus.OK,
        VerifyKeyResponse,
    )
    check(lacking.code == VerifyCode.INSUFFICIENT_SCOPES, f"a scope the key lacks is refused ({lacking.code})")
    print(f"verified: {verified.code}")

    # Errors are typed too: every one is an ErrorBody with a stable code.
    missing: ErrorBody = parsed(
        "GET /v1/api-keys/{unknown id}",
        get_api_key.sync_detailed(uuid.uuid4(), client=client),
        HTTPStatus.NOT_FOUND,
        ErrorBody,
    )
    check(missing.code == "not_found", f"an unknown id answers not_found ({missing.code})")

    # Revoke (204, no body); the key stops verifying at once.
    revoked = revoke_api_key.sync_detailed(created.id, client=client)
    check(revoked.status_code == HTTPStatus.NO_CONTENT, f"revoke answers 204 (got {int(revoked.status_code)})")
    after: VerifyKeyResponse = parsed(
        "POST /v1/keys/verify",
        verify_key.sync_detailed(client=client, body=VerifyKeyRequest(key=created.key)),
        HTTPStatus.OK,
        VerifyKeyResponse,
    )
    check(not after.valid and after.code == VerifyCode.REVOKED, f"a revoked key no longer verifies ({after.code})")
    print("revoked; the Python example passed")


if __name__ == "__main__":
    main()
