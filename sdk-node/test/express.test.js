'use strict';
// keyward/express over a real HTTP listener on 127.0.0.1:0, verifying against
// a real keyward server.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { Keyward, KeywardError } = require('..');
const { requireKey, extractKey } = require('keyward/express');
const { startServer, freePort } = require('./helpers/server.js');

/** The answers every keyward guard gives (docs/sdk-contract.md#guards-the-rejection-contract). */
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'fixtures', 'guard-rejections.json'), 'utf8'));

let server;
let client;
let app;
let listener;
let baseURL;
const keys = {};

before(async () => {
  server = await startServer();
  client = new Keyward({ apiKey: server.adminKey, baseURL: server.baseURL });
  keys.reader = (await client.apiKeys.create({ name: 'reader', scopes: ['reports:read'], meta: { team: 'blue' } })).key.value;
  keys.other = (await client.apiKeys.create({ name: 'other', scopes: ['billing:read'] })).key.value;
  const revoked = await client.apiKeys.create({ name: 'revoked', scopes: ['reports:read'] });
  await client.apiKeys.revoke(revoked.id);
  keys.revoked = revoked.key.value;
  keys.limited = (
    await client.apiKeys.create({ name: 'limited', scopes: ['reports:read'], rateLimit: { limit: 1, windowMs: 60000 } })
  ).key.value;
  keys.ipBound = (await client.apiKeys.create({ name: 'ip', scopes: ['reports:read'], allowedIps: ['10.9.8.7'] })).key.value;

  const offline = new Keyward({ apiKey: server.adminKey, baseURL: `http://127.0.0.1:${await freePort()}`, maxRetries: 0 });
  app = express();
  app.get('/reports', requireKey({ scopes: ['reports:read'], client }), (req, res) => {
    res.json({ keyId: req.keyward.keyId, name: req.keyward.name, meta: req.keyward.meta, scopes: req.keyward.scopes });
  });
  app.get('/open', requireKey({ client }), (req, res) => res.json({ name: req.keyward.name }));
  app.get('/offline', requireKey({ client: offline, logger: { error() {} } }), (req, res) => res.json({ ok: true }));
  await new Promise((resolve) => {
    listener = app.listen(0, '127.0.0.1', resolve);
  });
  baseURL = `http://127.0.0.1:${listener.address().port}`;
});

after(async () => {
  if (listener) {
    listener.closeAllConnections();
    await new Promise((resolve) => listener.close(resolve));
  }
  if (server) await server.stop();
});

async function get(route, headers = {}, base = baseURL) {
  const res = await fetch(base + route, { headers, signal: AbortSignal.timeout(10000) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** Serves `app` on 127.0.0.1 for the duration of `body(url)`. */
async function serving(app, body) {
  const listening = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    return await body(`http://127.0.0.1:${listening.address().port}`);
  } finally {
    listening.closeAllConnections();
    await new Promise((resolve) => listening.close(resolve));
  }
}

/** A logger that keeps what it is given. */
function memoryLogger() {
  const lines = [];
  return { lines, error: (message) => lines.push(String(message)) };
}

describe('requireKey', { timeout: 60000 }, () => {
  it('accepts Authorization: Bearer and sets req.keyward', async () => {
    const res = await get('/reports', { authorization: `Bearer ${keys.reader}` });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'reader');
    assert.deepEqual(res.body.meta, { team: 'blue' });
    assert.deepEqual(res.body.scopes, ['reports:read']);
    assert.ok(res.body.keyId);
  });

  it('accepts x-api-key', async () => {
    const res = await get('/reports', { 'x-api-key': keys.reader });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'reader');
  });

  it('401 without a key', async () => {
    const res = await get('/reports');
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'missing_key');
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="keyward"');
  });

  it('401 for an unknown, malformed or revoked key', async () => {
    const unknown = await get('/reports', { authorization: `Bearer ${keys.reader.slice(0, -8)}AAAAAAAA` });
    assert.equal(unknown.status, 401);
    assert.ok(['not_found', 'malformed'].includes(unknown.body.code));
    const malformed = await get('/reports', { 'x-api-key': 'hello' });
    assert.equal(malformed.status, 401);
    assert.equal(malformed.body.code, 'malformed');
    const revoked = await get('/reports', { authorization: `Bearer ${keys.revoked}` });
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.code, 'revoked');
  });

  it('403 for a missing scope or a forbidden IP', async () => {
    const res = await get('/reports', { authorization: `Bearer ${keys.other}` });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'insufficient_scopes');
    const open = await get('/open', { authorization: `Bearer ${keys.other}` });
    assert.equal(open.status, 200, 'no scopes required');
    const ip = await get('/reports', { authorization: `Bearer ${keys.ipBound}` });
    assert.equal(ip.status, 403);
    assert.equal(ip.body.code, 'forbidden_ip');
  });

  it('429 with Retry-After when the key is over its rate limit (real server)', async (t) => {
    const first = await get('/reports', { authorization: `Bearer ${keys.limited}` });
    assert.equal(first.status, 200);
    const probe = await client.keys.verify({ key: keys.limited, cost: 0 });
    if (probe.valid && probe.ratelimit === null) {
      t.skip('this server does not enforce verify rate limits yet (verify reports no ratelimit)');
      return;
    }
    const second = await get('/reports', { authorization: `Bearer ${keys.limited}` });
    assert.equal(second.status, 429);
    assert.equal(second.body.code, 'rate_limited');
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
  });

  it('429 for RATE_LIMITED and USAGE_EXCEEDED verify codes', async () => {
    // A client double answering the codes, behind the same real listener.
    const resetAt = new Date(Date.now() + 30000).toISOString();
    const answers = {
      rate: { valid: false, code: 'RATE_LIMITED', ratelimit: { limit: 1, remaining: 0, resetAt } },
      usage: { valid: false, code: 'USAGE_EXCEEDED', ratelimit: null, remaining: 0 },
    };
    const double = { keys: { verify: async ({ key }) => answers[key] } };
    const local = express();
    local.get('/x', requireKey({ client: double }), (req, res) => res.json({ ok: true }));
    const server2 = await new Promise((resolve) => {
      const s = local.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const url = `http://127.0.0.1:${server2.address().port}/x`;
      const rate = await fetch(url, { headers: { 'x-api-key': 'rate' }, signal: AbortSignal.timeout(10000) });
      assert.equal(rate.status, 429);
      assert.equal((await rate.json()).code, 'rate_limited');
      const retryAfter = Number(rate.headers.get('retry-after'));
      assert.ok(retryAfter >= 29 && retryAfter <= 31, `retry-after ${retryAfter}`);
      const usage = await fetch(url, { headers: { 'x-api-key': 'usage' }, signal: AbortSignal.timeout(10000) });
      assert.equal(usage.status, 429);
      assert.equal((await usage.json()).code, 'usage_exceeded');
    } finally {
      server2.closeAllConnections();
      await new Promise((resolve) => server2.close(resolve));
    }
  });

  it('503 when keyward is unreachable', async () => {
    const res = await get('/offline', { authorization: `Bearer ${keys.reader}` });
    assert.equal(res.status, 503);
    assert.equal(res.body.code, 'verification_unavailable');
  });

  it('examples/express-app.js serves /reports behind requireKey', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'express-app.js')], {
      env: { ...process.env, PORT: String(port), KEYWARD_API_KEY: server.adminKey, KEYWARD_BASE_URL: server.baseURL },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
      for (let i = 0; i < 200 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(out, /listening/);
      const url = `http://127.0.0.1:${port}/reports`;
      const ok = await fetch(url, { headers: { authorization: `Bearer ${keys.reader}` }, signal: AbortSignal.timeout(10000) });
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).key, 'reader');
      const denied = await fetch(url, { headers: { 'x-api-key': keys.other }, signal: AbortSignal.timeout(10000) });
      assert.equal(denied.status, 403);
    } finally {
      child.kill();
    }
  });

  it('answers the shared rejection fixture', async () => {
    const other = keys.other;
    const local = express();
    const offline = new Keyward({ apiKey: server.adminKey, baseURL: `http://127.0.0.1:${await freePort()}`, maxRetries: 0 });
    const quiet = { error() {} };
    local.get('/reports', requireKey({ scopes: FIXTURE.route_scopes, client, logger: quiet }), (req, res) => res.json({ ok: true }));
    local.get('/offline/reports', requireKey({ scopes: FIXTURE.route_scopes, client: offline, logger: quiet }), (req, res) =>
      res.json({ ok: true }),
    );
    const requests = {
      missing_key: ['/reports', {}],
      malformed: ['/reports', { 'x-api-key': 'hello' }],
      revoked: ['/reports', { authorization: `Bearer ${keys.revoked}` }],
      insufficient_scopes: ['/reports', { authorization: `Bearer ${other}` }],
      verification_unavailable: ['/offline/reports', { authorization: `Bearer ${keys.reader}` }],
    };
    assert.deepEqual(Object.keys(FIXTURE.cases).sort(), Object.keys(requests).sort(), 'every fixture case has a request here');
    await serving(local, async (url) => {
      for (const [name, expected] of Object.entries(FIXTURE.cases)) {
        const [route, headers] = requests[name];
        if (expected.x_request_id) headers['x-request-id'] = expected.x_request_id;
        const res = await fetch(url + route, { headers, signal: AbortSignal.timeout(10000) });
        assert.equal(res.status, expected.status, name);
        assert.equal(res.headers.get('www-authenticate'), expected.www_authenticate, name);
        assert.match(res.headers.get('content-type'), /^application\/json/, name);
        assert.deepEqual(await res.json(), expected.body, name);
      }
    });
  });

  it('onReject answers instead, with the verdict', async () => {
    const seen = [];
    const local = express();
    local.get(
      '/x',
      requireKey({
        client,
        onReject: (rejection, req, res) => {
          seen.push([rejection.code, rejection.verdict && rejection.verdict.code]);
          res.status(418).json({ denied: rejection.code, path: req.path });
        },
      }),
      (req, res) => res.json({ ok: true }),
    );
    local.get('/quiet', requireKey({ client, onReject: () => {} }), (req, res) => res.json({ ok: true }));
    await serving(local, async (url) => {
      const missing = await get('/x', {}, url);
      assert.deepEqual([missing.status, missing.body], [418, { denied: 'missing_key', path: '/x' }]);
      const revoked = await get('/x', { authorization: `Bearer ${keys.revoked}` }, url);
      assert.deepEqual([revoked.status, revoked.body.denied], [418, 'revoked']);
      const fallback = await get('/quiet', {}, url);
      assert.equal(fallback.status, 401, 'a hook that sends nothing leaves the default answer');
      assert.equal(fallback.body.code, 'missing_key');
    });
    assert.deepEqual(seen, [
      ['missing_key', null],
      ['revoked', 'REVOKED'],
    ]);
  });

  it('logs a refused guard key once per interval as a configuration error', async () => {
    const caller = keys.reader; // valid, but without keys:verify
    for (const [guardKey, status] of [
      [caller, '403'],
      ['kw_live_notarealkey', '401'],
    ]) {
      const logger = memoryLogger();
      const guardClient = new Keyward({ apiKey: guardKey, baseURL: server.baseURL });
      const local = express();
      local.get('/a', requireKey({ client: guardClient, logger }), (req, res) => res.json({ ok: true }));
      local.get('/b', requireKey({ client: guardClient, logger }), (req, res) => res.json({ ok: true }));
      await serving(local, async (url) => {
        for (const route of ['/a', '/b', '/a']) {
          const res = await get(route, { authorization: `Bearer ${caller}` }, url);
          assert.deepEqual([res.status, res.body.code], [503, 'verification_unavailable']);
        }
      });
      assert.equal(logger.lines.length, 1, logger.lines.join('\n'));
      assert.match(logger.lines[0], /configuration/);
      assert.match(logger.lines[0], /KEYWARD_API_KEY/);
      assert.ok(logger.lines[0].includes(status), logger.lines[0]);
    }
  });

  it('logIntervalMs bounds the logging', async () => {
    const logger = memoryLogger();
    const guardClient = new Keyward({ apiKey: 'kw_live_notarealkey', baseURL: server.baseURL });
    const local = express();
    local.get('/a', requireKey({ client: guardClient, logger, logIntervalMs: 0 }), (req, res) => res.json({ ok: true }));
    await serving(local, async (url) => {
      for (let i = 0; i < 3; i++) assert.equal((await get('/a', { 'x-api-key': keys.reader }, url)).status, 503);
    });
    assert.equal(logger.lines.length, 3);
  });

  it('logs an unreachable keyward once as an outage', async () => {
    const logger = memoryLogger();
    const down = `http://127.0.0.1:${await freePort()}`;
    const guardClient = new Keyward({ apiKey: server.adminKey, baseURL: down, maxRetries: 0 });
    const local = express();
    local.get('/a', requireKey({ client: guardClient, logger }), (req, res) => res.json({ ok: true }));
    await serving(local, async (url) => {
      for (let i = 0; i < 3; i++) assert.equal((await get('/a', { 'x-api-key': keys.reader }, url)).status, 503);
    });
    assert.equal(logger.lines.length, 1, logger.lines.join('\n'));
    assert.match(logger.lines[0], /outage/);
    assert.ok(logger.lines[0].includes(down), logger.lines[0]);
  });

  it('fails at start, naming the missing variable', async () => {
    const saved = { key: process.env.KEYWARD_API_KEY, url: process.env.KEYWARD_BASE_URL };
    try {
      delete process.env.KEYWARD_API_KEY;
      delete process.env.KEYWARD_BASE_URL;
      assert.throws(() => requireKey({ scopes: ['reports:read'] }), (error) => error instanceof KeywardError && /KEYWARD_API_KEY/.test(error.message));
      process.env.KEYWARD_API_KEY = server.adminKey;
      assert.throws(() => requireKey(), (error) => error instanceof KeywardError && /KEYWARD_BASE_URL/.test(error.message));
    } finally {
      if (saved.key === undefined) delete process.env.KEYWARD_API_KEY;
      else process.env.KEYWARD_API_KEY = saved.key;
      if (saved.url === undefined) delete process.env.KEYWARD_BASE_URL;
      else process.env.KEYWARD_BASE_URL = saved.url;
    }

    // The example app does not start (rather than answering Express's HTML error page later).
    const env = { ...process.env, PORT: String(await freePort()) };
    delete env.KEYWARD_API_KEY;
    delete env.KEYWARD_BASE_URL;
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'express-app.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill(), 20000);
    const code = await new Promise((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(timer);
    assert.notEqual(code, 0, output);
    assert.match(output, /KEYWARD_API_KEY is not set/);
    assert.doesNotMatch(output, /listening/);
  });

  it('extractKey reads both headers', () => {
    assert.equal(extractKey({ headers: { authorization: 'Bearer abc' } }), 'abc');
    assert.equal(extractKey({ headers: { authorization: 'bearer  abc ' } }), 'abc');
    assert.equal(extractKey({ headers: { 'x-api-key': 'xyz' } }), 'xyz');
    assert.equal(extractKey({ headers: { authorization: 'Basic abc' } }), null);
    assert.equal(extractKey({ headers: {} }), null);
  });
});
