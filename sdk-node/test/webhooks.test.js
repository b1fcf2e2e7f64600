'use strict';
// No server needed: webhooks.verify / Webhook (Standard Webhooks) through the
// native addon. Messages are signed here with node:crypto's createHmac,
// independently of the implementation under test.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const util = require('node:util');

const keyward = require('..');
const { webhooks, Webhook, WebhookVerificationError, KeywardError } = keyward;

// The Standard Webhooks reference libraries' test vector.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const BODY = '{"type": "api_key.created", "data": {"id": "01900000-0000-7000-8000-000000000000", "scopes": ["a"]}}';
const EVENT = JSON.parse(BODY);

function nodeSignature(secret, msgId, timestamp, payload, version = 'v1') {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  const mac = crypto.createHmac('sha256', key).update(`${msgId}.${timestamp}.`).update(payload).digest('base64');
  return `${version},${mac}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function signedHeaders({ payload = BODY, secret = SECRET, msgId = 'msg_2bTest', timestamp = nowSeconds(), signature } = {}) {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature ?? nodeSignature(secret, msgId, timestamp, payload),
  };
}

function rejects(code, payload, headers, secret = SECRET, options) {
  let caught;
  assert.throws(
    () => webhooks.verify(payload, headers, secret, options),
    (error) => {
      caught = error;
      return error instanceof WebhookVerificationError && error.code === code;
    },
  );
  return caught;
}

describe('webhooks', () => {
  it('matches the reference vector (node:crypto agrees with it, and so does the SDK)', () => {
    assert.equal(nodeSignature(SECRET, MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
    const hook = new Webhook(SECRET);
    assert.equal(hook.sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
    assert.equal(hook.sign(MSG_ID, new Date(TIMESTAMP * 1000), Buffer.from(PAYLOAD)), SIGNATURE);
    assert.equal(new Webhook(SECRET.slice(6)).sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
    const headers = { 'webhook-id': MSG_ID, 'webhook-timestamp': String(TIMESTAMP), 'webhook-signature': SIGNATURE };
    // From 2021: too old for the default tolerance, valid with one reaching back.
    rejects('timestamp_too_old', PAYLOAD, headers);
    const wide = nowSeconds() - TIMESTAMP + 3600;
    assert.deepEqual(webhooks.verify(PAYLOAD, headers, SECRET, { toleranceSeconds: wide }), { test: 2432232314 });
  });

  it('accepts a node:crypto-signed message and returns the parsed body', () => {
    const headers = signedHeaders();
    assert.deepEqual(webhooks.verify(BODY, headers, SECRET), EVENT);
    assert.deepEqual(webhooks.verify(Buffer.from(BODY), headers, SECRET), EVENT);
    assert.deepEqual(webhooks.verify(new TextEncoder().encode(BODY), headers, SECRET), EVENT);
    const hook = new Webhook(SECRET);
    assert.deepEqual(hook.verify(BODY, headers), EVENT);
    // Non-ASCII bodies are signed as their UTF-8 bytes.
    const text = '{"name": "Zoë ☃"}';
    assert.deepEqual(hook.verify(text, signedHeaders({ payload: text })), { name: 'Zoë ☃' });
    assert.deepEqual(hook.verify('[1, 2.5, null]', signedHeaders({ payload: '[1, 2.5, null]' })), [1, 2.5, null]);
  });

  it('rejects a tampered body, id or timestamp', () => {
    const headers = signedHeaders();
    rejects('no_matching_signature', BODY.replace('"a"', '"admin"'), headers);
    rejects('no_matching_signature', BODY + ' ', headers);
    rejects('no_matching_signature', JSON.stringify(EVENT), headers); // re-serialized is not the signed bytes
    rejects('no_matching_signature', BODY, { ...headers, 'webhook-id': 'msg_other' });
    rejects('no_matching_signature', BODY, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) });
  });

  it('rejects a wrong secret', () => {
    const other = 'whsec_' + Buffer.from("another endpoint's key!!").toString('base64');
    rejects('no_matching_signature', BODY, signedHeaders({ secret: other }));
    rejects('no_matching_signature', BODY, signedHeaders(), other);
  });

  it('applies the tolerance both ways', () => {
    const now = nowSeconds();
    assert.deepEqual(webhooks.verify(BODY, signedHeaders({ timestamp: now - 290 }), SECRET), EVENT);
    assert.deepEqual(webhooks.verify(BODY, signedHeaders({ timestamp: now + 290 }), SECRET), EVENT);
    rejects('timestamp_too_old', BODY, signedHeaders({ timestamp: now - 310 }));
    rejects('timestamp_too_new', BODY, signedHeaders({ timestamp: now + 310 }));
    rejects('timestamp_too_old', BODY, signedHeaders({ timestamp: now - 60 }), SECRET, { toleranceSeconds: 30 });
    rejects('timestamp_too_new', BODY, signedHeaders({ timestamp: now + 60 }), SECRET, { toleranceSeconds: 30 });
    const strict = new Webhook(SECRET, { toleranceSeconds: 30 });
    assert.equal(strict.toleranceSeconds, 30);
    assert.deepEqual(strict.verify(BODY, signedHeaders({ timestamp: now - 5 })), EVENT);
    assert.throws(() => strict.verify(BODY, signedHeaders({ timestamp: now - 60 })), { code: 'timestamp_too_old' });
    assert.equal(new Webhook(SECRET).toleranceSeconds, webhooks.DEFAULT_TOLERANCE_SECONDS);
    assert.equal(webhooks.DEFAULT_TOLERANCE_SECONDS, 300);
    for (const bad of [-1, 1.5, '300', Number.NaN]) {
      assert.throws(() => new Webhook(SECRET, { toleranceSeconds: bad }), RangeError);
    }
  });

  it('accepts one valid signature among several, and ignores other versions', () => {
    const headers = signedHeaders();
    const ts = headers['webhook-timestamp'];
    const good = headers['webhook-signature'];
    const wrong = nodeSignature('whsec_' + Buffer.from('old key').toString('base64'), 'msg_2bTest', ts, BODY);
    assert.deepEqual(webhooks.verify(BODY, { ...headers, 'webhook-signature': `${wrong} v1,!!notbase64 ${good} v2,AAAA` }, SECRET), EVENT);
    rejects('no_matching_signature', BODY, { ...headers, 'webhook-signature': `${wrong} v1,!!notbase64` });
    // The right MAC under another version tag does not count.
    const v1a = nodeSignature(SECRET, 'msg_2bTest', ts, BODY, 'v1a');
    rejects('no_matching_signature', BODY, { ...headers, 'webhook-signature': v1a });
    assert.deepEqual(webhooks.verify(BODY, { ...headers, 'webhook-signature': `${v1a} ${good}` }, SECRET), EVENT);
    // Repeated headers: an array value (node's req.headers shape), and fetch's ", "-joined form.
    assert.deepEqual(webhooks.verify(BODY, { ...headers, 'webhook-signature': [wrong, good] }, SECRET), EVENT);
    const fetchHeaders = new Headers({ 'webhook-id': headers['webhook-id'], 'webhook-timestamp': ts });
    fetchHeaders.append('webhook-signature', good);
    fetchHeaders.append('webhook-signature', wrong);
    assert.equal(fetchHeaders.get('webhook-signature'), `${good}, ${wrong}`);
    assert.deepEqual(webhooks.verify(BODY, fetchHeaders, SECRET), EVENT);
  });

  it('matches header names case-insensitively, from objects, Headers, Maps and pairs', () => {
    const headers = signedHeaders();
    const mixed = {
      'Webhook-Id': headers['webhook-id'],
      'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'],
      'Webhook-Signature': headers['webhook-signature'],
      host: undefined,
    };
    assert.deepEqual(webhooks.verify(BODY, mixed, SECRET), EVENT);
    const pairs = Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]);
    assert.deepEqual(webhooks.verify(BODY, pairs, SECRET), EVENT);
    assert.deepEqual(webhooks.verify(BODY, new Map(pairs), SECRET), EVENT);
    assert.deepEqual(webhooks.verify(BODY, new Headers(mixed), SECRET), EVENT);
  });

  it('reports missing and malformed headers', () => {
    const headers = signedHeaders();
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const without = { ...headers };
      delete without[name];
      const error = rejects('missing_header', BODY, without);
      assert.match(error.message, new RegExp(name));
      rejects('missing_header', BODY, { ...headers, [name]: '' });
      rejects('missing_header', BODY, { ...headers, [name]: undefined });
    }
    for (const bad of ['soon', '1.5', '0x10', '99999999999999999999']) {
      rejects('invalid_timestamp', BODY, { ...headers, 'webhook-timestamp': bad });
    }
    rejects('missing_header', BODY, {});
    assert.throws(() => webhooks.verify(BODY, null, SECRET), TypeError);
    assert.throws(() => webhooks.verify({ not: 'a body' }, headers, SECRET), TypeError);
  });

  it('rejects a signed body that is not JSON', () => {
    const body = 'plain text, not JSON';
    const error = rejects('invalid_payload', body, signedHeaders({ payload: body }));
    assert.match(error.message, /not JSON/);
  });

  it('refuses a malformed secret with a KeywardError that does not echo it', () => {
    for (const secret of ['', 'whsec_', 'whsec_!!definitely-not-base64-secretpart', 'whsec_a']) {
      assert.throws(
        () => new Webhook(secret),
        (error) =>
          error instanceof KeywardError &&
          !(error instanceof WebhookVerificationError) &&
          error.type === 'invalid_argument' &&
          !error.message.includes('secretpart'),
      );
    }
    assert.throws(() => webhooks.verify(BODY, signedHeaders(), 'whsec_!!'), KeywardError);
    assert.throws(() => new Webhook(Buffer.from('whsec_abcd')), TypeError);
  });

  it('WebhookVerificationError is in the error hierarchy; nothing prints the secret', () => {
    const error = rejects('no_matching_signature', BODY, signedHeaders({ secret: 'whsec_' + Buffer.alloc(24, 1).toString('base64') }));
    assert.ok(error instanceof KeywardError && error instanceof Error);
    assert.equal(error.name, 'WebhookVerificationError');
    assert.equal(error.message, 'no matching webhook signature');
    assert.equal(webhooks.WebhookVerificationError, WebhookVerificationError);
    assert.equal(webhooks.Webhook, Webhook);
    const hook = new Webhook(SECRET);
    const shown = [String(hook), util.inspect(hook), JSON.stringify(hook), util.inspect(error)].join('\n');
    assert.equal(shown.includes(SECRET.slice(6)), false, shown);
    assert.equal(util.inspect(hook), 'Webhook { toleranceSeconds: 300 }');
  });
});
