'use strict';
// The Rust SDK's generated types drop null fields when they serialize; the
// JS surface puts every documented field back (as null), so a result always
// has the same keys as the API's JSON. test/models.test.js checks these lists
// against openapi/keyward.json.

const NULLABLE = {
  ApiKey: [
    'project_id',
    'expires_at',
    'last_used_at',
    'revoked_at',
    'created_by_user_id',
    'device_name',
    'rate_limit',
    'usage_limit',
    'replaced_by_key_id',
    'grace_expires_at',
    'rotation_interval_days',
    'next_rotation_at',
    'rotation_webhook_url',
  ],
  UsageLimit: ['refill'],
  RotatedApiKey: ['project_id', 'expires_at', 'grace_expires_at'],
  // expiry_warning_days and leak_policy are required: always present.
  Project: ['key_prefix', 'default_scopes', 'default_rate_limit', 'default_ttl_seconds', 'default_grace_period_seconds'],
  Organization: ['role'],
  Member: [],
  Environment: [],
  AuditEvent: ['ip', 'user_agent', 'request_id'],
  WebhookEndpoint: ['description'],
  WebhookDelivery: [
    'endpoint_id',
    'api_key_id',
    'next_attempt_at',
    'last_attempt_at',
    'last_status_code',
    'last_error',
    'delivered_at',
  ],
  VerifyKeyResponse: [
    'key_id',
    'organization_id',
    'project_id',
    'environment',
    'name',
    'scopes',
    'meta',
    'expires_at',
    'grace_expires_at',
    'ratelimit',
    'remaining',
  ],
};

function fill(object, model) {
  if (object === null || typeof object !== 'object') return object;
  for (const field of NULLABLE[model]) {
    if (object[field] === undefined) object[field] = null;
  }
  if (model === 'ApiKey' && object.usage_limit) fill(object.usage_limit, 'UsageLimit');
  return object;
}

module.exports = { NULLABLE, fill };
