'use strict';
// keyward: Node.js client for the keyward API-key service.
// The HTTP work happens in the Rust SDK (native addon); this layer gives it a
// camelCase, Promise-based surface with typed errors.

const { Keyward, PageIterator, keyHash } = require('./lib/client.js');
const resources = require('./lib/resources.js');
const { SecretKey } = require('./lib/secret.js');
const errors = require('./lib/errors.js');
const webhooks = require('./lib/webhooks.js');

exports.Keyward = Keyward;
exports.PageIterator = PageIterator;
// Every operation of the spec (`resource.method`), and the resource classes
// behind `client.apiKeys` and the like: generated from openapi/keyward.json.
exports.OPERATIONS = resources.OPERATIONS;
for (const Resource of Object.values(resources.RESOURCES)) exports[Resource.name] = Resource;
// SHA-256 hex of a key's full text: the `keyHash` of `client.apiKeys.import`.
exports.keyHash = keyHash;
exports.SecretKey = SecretKey;
exports.KeywardError = errors.KeywardError;
exports.APIConnectionError = errors.APIConnectionError;
exports.APITimeoutError = errors.APITimeoutError;
exports.APIUserAbortError = errors.APIUserAbortError;
exports.APIError = errors.APIError;
exports.BadRequestError = errors.BadRequestError;
exports.AuthenticationError = errors.AuthenticationError;
exports.PermissionDeniedError = errors.PermissionDeniedError;
exports.NotFoundError = errors.NotFoundError;
exports.ConflictError = errors.ConflictError;
exports.RateLimitError = errors.RateLimitError;
exports.InternalServerError = errors.InternalServerError;
exports.WebhookVerificationError = errors.WebhookVerificationError;
// Standard Webhooks verification of the webhooks keyward sends.
exports.webhooks = webhooks;
exports.Webhook = webhooks.Webhook;
