'use strict';
// keyward/express: guard your own Express routes with keyward's verify.
//
//   const { requireKey } = require('keyward/express');
//   const reportsReader = requireKey({ scopes: ['reports:read'] }); // KEYWARD_API_KEY / KEYWARD_BASE_URL checked here
//   app.get('/reports', reportsReader, (req, res) => {
//     res.json({ owner: req.keyward.organizationId });
//   });
//
// Rejections are the body, statuses and WWW-Authenticate header every keyward
// guard answers with (docs/sdk-contract.md, "Guards: the rejection contract").
// Express itself is not required here: the middleware only uses req.headers /
// req.ip and res.status().json() (falling back to plain Node http when those
// helpers are missing).

const { Keyward } = require('./lib/client.js');
const { KeywardError } = require('./lib/errors.js');

/** How often, at most, each kind of problem with keyward itself is logged (ms). */
const DEFAULT_LOG_INTERVAL_MS = 60000;

const REALM = 'Bearer realm="keyward"';

/** Verify codes and the status the middleware answers with (401 otherwise). */
const STATUS_BY_CODE = {
  INSUFFICIENT_SCOPES: 403,
  FORBIDDEN_IP: 403,
  RATE_LIMITED: 429,
  USAGE_EXCEEDED: 429,
};

// The same sentences as the Rust and Python guards (tests/fixtures/guard-rejections.json).
const MESSAGES = {
  NOT_FOUND: 'the API key is not valid',
  MALFORMED: 'the API key is malformed',
  REVOKED: 'the API key was revoked',
  EXPIRED: 'the API key has expired',
  DISABLED: 'the API key is disabled',
  INSUFFICIENT_SCOPES: 'the API key lacks a required scope',
  FORBIDDEN_IP: 'the API key may not be used from this IP address',
  RATE_LIMITED: "the API key's rate limit is exhausted",
  USAGE_EXCEEDED: "the API key's usage limit is exhausted",
};
const MISSING_KEY = 'an API key is required: send it as Authorization: Bearer <key> or x-api-key';
const UNAVAILABLE = 'the API key could not be verified right now';

/** One client per (key, URL) from the environment, shared by every guard built from it. */
const defaultClients = new Map();

function clientFromEnv() {
  const apiKey = (process.env.KEYWARD_API_KEY || '').trim();
  if (!apiKey) {
    throw new KeywardError(
      'keyward/express requireKey(): KEYWARD_API_KEY is not set. Set it to a keyward API key with the keys:verify scope, or pass { client }.',
    );
  }
  const baseURL = (process.env.KEYWARD_BASE_URL || '').trim();
  if (!baseURL) {
    throw new KeywardError(
      "keyward/express requireKey(): KEYWARD_BASE_URL is not set. Set it to the keyward server's URL (e.g. https://keys.example.com), or pass { client }.",
    );
  }
  const id = `${apiKey}\n${baseURL}`;
  let client = defaultClients.get(id);
  if (!client) {
    client = new Keyward({ apiKey, baseURL });
    defaultClients.set(id, client);
  }
  return client;
}

/** When each kind of problem was last logged, per client (so every route on one client logs it once). */
const alertsByClient = new WeakMap();

function alertsFor(client) {
  let alerts = alertsByClient.get(client);
  if (!alerts) {
    alerts = new Map();
    alertsByClient.set(client, alerts);
  }
  return alerts;
}

/** The key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
function extractKey(req) {
  const headers = req.headers || {};
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim()) return apiKey.trim();
  return null;
}

function clientIp(req) {
  const ip = req.ip || (req.socket && req.socket.remoteAddress);
  if (typeof ip !== 'string' || !ip) return undefined;
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** The request's own x-request-id (from a proxy), when the keyward server would accept it too. */
function requestId(req) {
  const value = (req.headers || {})['x-request-id'];
  if (typeof value === 'string' && value.length > 0 && value.length <= 200 && /^[\x21-\x7e]+$/.test(value)) return value;
  return null;
}

function rejection(status, code, message, req, extra = {}) {
  const headers = extra.headers || {};
  const id = requestId(req);
  return {
    status,
    code,
    message,
    requestId: id,
    headers,
    body: { error: message, code, request_id: id },
    verdict: extra.verdict ?? null,
    error: extra.error ?? null,
  };
}

/** Sends a rejection as documented: its status, headers and JSON body. */
function sendRejection(res, rejected) {
  for (const [name, value] of Object.entries(rejected.headers)) res.setHeader(name, value);
  if (typeof res.status === 'function' && typeof res.json === 'function') {
    res.status(rejected.status).json(rejected.body);
  } else {
    res.statusCode = rejected.status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(rejected.body));
  }
}

/**
 * Express middleware that verifies the presented key with keyward.
 *
 * On success sets `req.keyward` to the verify result (camelCase) and calls
 * next(). Otherwise answers the documented rejection: JSON
 * `{error, code, request_id}` with 401 (no key, or an invalid, revoked,
 * expired or disabled one), 403 (missing scope, forbidden IP), 429 (rate or
 * usage limit, with Retry-After when known) or 503 (keyward gave no verdict).
 *
 * Built once, when the app starts: without `client` it reads KEYWARD_API_KEY
 * and KEYWARD_BASE_URL and throws a KeywardError naming the one missing.
 *
 * @param {object} [options]
 * @param {string[]} [options.scopes] scopes the key must all hold
 * @param {import('./index').Keyward} [options.client] defaults to one built from KEYWARD_API_KEY and KEYWARD_BASE_URL
 * @param {number} [options.cost] credits each request spends (default: server's, 1)
 * @param {(req: any) => string | undefined} [options.ip] caller IP to check against allowed_ips (default req.ip); return undefined to skip
 * @param {(rejection: object, req: any, res: any) => void | Promise<void>} [options.onReject] answers a rejected request itself (else the default body is sent)
 * @param {{ error: (...args: any[]) => void }} [options.logger] where problems with keyward itself go (default console)
 * @param {number} [options.logIntervalMs] how often, at most, each such problem is logged (default 60000)
 * @param {(error: unknown, req: any) => void} [options.onError] called when keyward gave no verdict (the answer is 503)
 */
function requireKey(options = {}) {
  const scopes = options.scopes ? [...options.scopes] : undefined;
  const cost = options.cost;
  const ipOf = options.ip || clientIp;
  const client = options.client ?? clientFromEnv();
  const logger = options.logger ?? console;
  const logIntervalMs = options.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS;
  const onReject = options.onReject;
  const alerts = alertsFor(client);

  function alert(error) {
    const status = error && typeof error === 'object' ? error.status : undefined;
    const kind = status === 401 || status === 403 ? 'configuration' : 'outage';
    const now = Date.now();
    const last = alerts.get(kind);
    if (last !== undefined && now - last < logIntervalMs) return;
    alerts.set(kind, now);
    const where = client.baseURL ?? 'keyward';
    const every = `${logIntervalMs / 1000} s`;
    const reason = error && error.message ? error.message : String(error);
    if (kind === 'configuration') {
      logger.error(
        `keyward guard misconfigured (configuration): keyward at ${where} refused the guard's own API key (${status} ${error.code ?? ''}: ${reason}); ` +
          `KEYWARD_API_KEY must be a valid key with the keys:verify scope. Every guarded request answers 503 until this is fixed (logged at most once per ${every})`,
      );
    } else {
      logger.error(
        `keyward guard cannot verify keys (outage): keyward at ${where} is unreachable or failing (${reason}); ` +
          `guarded requests answer 503 (logged at most once per ${every})`,
      );
    }
  }

  async function reject(rejected, req, res, next) {
    if (typeof onReject !== 'function') {
      sendRejection(res, rejected);
      return;
    }
    try {
      await onReject(rejected, req, res);
    } catch (error) {
      next(error);
      return;
    }
    if (!res.headersSent && !res.writableEnded) sendRejection(res, rejected);
  }

  return function keywardRequireKey(req, res, next) {
    const key = extractKey(req);
    if (!key) {
      // RFC 6750 §3.1: no error attribute when no credentials were sent.
      void reject(rejection(401, 'missing_key', MISSING_KEY, req, { headers: { 'www-authenticate': REALM } }), req, res, next);
      return;
    }
    const params = { key };
    const ip = ipOf(req);
    if (ip) params.ip = ip;
    if (scopes && scopes.length) params.requiredScopes = scopes;
    if (cost !== undefined) params.cost = cost;
    Promise.resolve()
      .then(() => client.keys.verify(params))
      .then(
        (result) => {
          if (result.valid) {
            req.keyward = result;
            next();
            return;
          }
          const code = result.code;
          const status = STATUS_BY_CODE[code] ?? 401;
          const headers = {};
          if (code === 'INSUFFICIENT_SCOPES') {
            const challenge = `${REALM}, error="insufficient_scope"`;
            headers['www-authenticate'] = scopes && scopes.length ? `${challenge}, scope="${scopes.join(' ')}"` : challenge;
          } else if (status === 401) {
            headers['www-authenticate'] = `${REALM}, error="invalid_token"`;
          }
          if (code === 'RATE_LIMITED' && result.ratelimit && result.ratelimit.resetAt) {
            const seconds = Math.ceil((Date.parse(result.ratelimit.resetAt) - Date.now()) / 1000);
            if (Number.isFinite(seconds)) headers['retry-after'] = String(Math.max(1, seconds));
          }
          const message = MESSAGES[code] ?? 'the API key was rejected';
          return reject(rejection(status, String(code).toLowerCase(), message, req, { headers, verdict: result }), req, res, next);
        },
        (error) => {
          // keyward is unreachable or refused our own key: fail closed, and say why once per interval.
          alert(error);
          if (typeof options.onError === 'function') options.onError(error, req);
          return reject(rejection(503, 'verification_unavailable', UNAVAILABLE, req, { error }), req, res, next);
        },
      )
      .catch((error) => {
        if (!res.headersSent) next(error);
      });
  };
}

exports.requireKey = requireKey;
exports.extractKey = extractKey;
exports.DEFAULT_LOG_INTERVAL_MS = DEFAULT_LOG_INTERVAL_MS;
