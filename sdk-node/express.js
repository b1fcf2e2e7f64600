'use strict';
// keyward/express: guard your own Express routes with keyward's verify.
//
//   const { requireKey } = require('keyward/express');
//   app.get('/reports', requireKey({ scopes: ['reports:read'] }), (req, res) => {
//     res.json({ owner: req.keyward.organizationId });
//   });
//
// Express itself is not required here: the middleware only uses
// req.headers / req.ip and res.status().json() (falling back to plain Node
// http when those helpers are missing).

const { Keyward } = require('./lib/client.js');

/** Verify codes and the status the middleware answers with. */
const STATUS_BY_CODE = {
  INSUFFICIENT_SCOPES: 403,
  FORBIDDEN_IP: 403,
  RATE_LIMITED: 429,
  USAGE_EXCEEDED: 429,
};

const MESSAGES = {
  NOT_FOUND: 'The API key is not valid.',
  MALFORMED: 'The API key is malformed.',
  REVOKED: 'The API key has been revoked.',
  EXPIRED: 'The API key has expired.',
  DISABLED: 'The API key is disabled.',
  FORBIDDEN_IP: 'The API key may not be used from this IP address.',
  INSUFFICIENT_SCOPES: 'The API key lacks a required scope.',
  RATE_LIMITED: 'Rate limit exceeded for this API key.',
  USAGE_EXCEEDED: 'Usage limit exhausted for this API key.',
};

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

function send(res, status, body, headers = {}) {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (typeof res.status === 'function' && typeof res.json === 'function') {
    res.status(status).json(body);
  } else {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }
}

/**
 * Express middleware that verifies the presented key with keyward.
 *
 * On success sets `req.keyward` to the verify result (camelCase) and calls
 * next(). Otherwise answers JSON `{error, code}`: 401 when no key or an
 * invalid/revoked/expired/disabled key, 403 for missing scopes or a forbidden
 * IP, 429 when rate-limited or out of credits (with Retry-After when known),
 * 503 when keyward itself cannot be reached.
 *
 * @param {object} [options]
 * @param {string[]} [options.scopes] scopes the key must all hold
 * @param {import('./index').Keyward} [options.client] defaults to `new Keyward()` (env config), made on first use
 * @param {number} [options.cost] credits each request spends (default: server's, 1)
 * @param {(req: any) => string | undefined} [options.ip] caller IP to check against allowed_ips (default req.ip); return undefined to skip
 */
function requireKey(options = {}) {
  const scopes = options.scopes ? [...options.scopes] : undefined;
  const cost = options.cost;
  const ipOf = options.ip || clientIp;
  let client = options.client;

  return function keywardRequireKey(req, res, next) {
    const key = extractKey(req);
    if (!key) {
      send(res, 401, { error: 'Missing API key: send `Authorization: Bearer <key>` or `x-api-key`.', code: 'missing_api_key' }, {
        'www-authenticate': 'Bearer',
      });
      return;
    }
    try {
      client ??= new Keyward();
    } catch (error) {
      next(error);
      return;
    }
    const params = { key };
    const ip = ipOf(req);
    if (ip) params.ip = ip;
    if (scopes && scopes.length) params.requiredScopes = scopes;
    if (cost !== undefined) params.cost = cost;
    client.keys.verify(params).then(
      (result) => {
        if (result.valid) {
          req.keyward = result;
          next();
          return;
        }
        const code = result.code;
        const status = STATUS_BY_CODE[code] ?? 401;
        const headers = {};
        if (status === 401) headers['www-authenticate'] = 'Bearer error="invalid_token"';
        if (code === 'RATE_LIMITED' && result.ratelimit && result.ratelimit.resetAt) {
          const seconds = Math.ceil((Date.parse(result.ratelimit.resetAt) - Date.now()) / 1000);
          if (Number.isFinite(seconds)) headers['retry-after'] = String(Math.max(1, seconds));
        }
        send(res, status, { error: MESSAGES[code] ?? 'The API key was rejected.', code: code.toLowerCase() }, headers);
      },
      (error) => {
        // keyward is unreachable or refused our own key: fail closed.
        send(res, 503, {
          error: 'API key verification is unavailable.',
          code: 'verification_unavailable',
        });
        if (typeof options.onError === 'function') options.onError(error, req);
      },
    );
  };
}

exports.requireKey = requireKey;
exports.extractKey = extractKey;
