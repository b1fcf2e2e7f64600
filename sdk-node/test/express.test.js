'use strict';
// keyward/express over a real HTTP listener on 127.0.0.1:0, verifying against
// a real keyward server.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');

const { Keyward } = require('..');
const { requireKey, extractKey } = require('keyward/express');
const { startServer, freePort } = require('./helpers/server.js');

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
  app.get('/offline', requireKey({ client: offline }), (req, res) => res.json({ ok: true }));
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

async function get(path, headers = {}) {
  const res = await fetch(baseURL + path, { headers, signal: AbortSignal.timeout(10000) });
  return { status: res.status, headers: res.headers, body: await res.json() };
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
    assert.equal(res.body.code, 'missing_api_key');
    assert.match(res.headers.get('www-authenticate'), /Bearer/);
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
    const { spawn } = require('node:child_process');
    const path = require('node:path');
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

  it('extractKey reads both headers', () => {
    assert.equal(extractKey({ headers: { authorization: 'Bearer abc' } }), 'abc');
    assert.equal(extractKey({ headers: { authorization: 'bearer  abc ' } }), 'abc');
    assert.equal(extractKey({ headers: { 'x-api-key': 'xyz' } }), 'xyz');
    assert.equal(extractKey({ headers: { authorization: 'Basic abc' } }), null);
    assert.equal(extractKey({ headers: {} }), null);
  });
});
