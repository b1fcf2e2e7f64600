"""Schemathesis hooks for `cargo xtask fuzz` / the `fuzz` suite of `cargo xtask test`.

The spec states every bound JSON Schema can express; these few rules it
cannot (they depend on the clock, on other fields or on the network), so
schema-valid (positive) cases are nudged to satisfy them before they are
sent. Negative cases are left alone: the server must still refuse them.

- `expires_at` must be in the future: a generated date is moved to 2999.
- A webhook or rotation URL must name a public host (the SSRF guard refuses
  private, loopback and link-local targets, and `*.local`/`*.internal`): a
  generated URL becomes one fixed public-looking URL. Nothing is delivered
  there: the fuzz server runs with its background jobs off.
- The usage report's `from` must be before `to` and the range at most 31 days
  (hour) or 366 days (day): `from` is dropped, so it defaults to one span
  before `to`.
"""

import schemathesis

FUTURE = "2999-01-01T00:00:00Z"
PUBLIC_URL = "https://hooks.example.com/keyward-fuzz"
URL_FIELDS = {"url", "rotation_webhook_url"}


def _fix(value):
    if isinstance(value, dict):
        for key, item in list(value.items()):
            if key == "expires_at" and isinstance(item, str):
                value[key] = FUTURE
            elif key in URL_FIELDS and isinstance(item, str):
                value[key] = PUBLIC_URL
            else:
                _fix(item)
    elif isinstance(value, list):
        for item in value:
            _fix(item)


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if isinstance(case.body, (dict, list)):
        _fix(case.body)
    if case.operation.path == "/v1/api-keys/{id}/usage" and isinstance(case.query, dict):
        case.query.pop("from", None)
    return case
