'use strict';
// No server needed: every operation the native addon runs
// (`NativeClient.operations()`, i.e. keyward::dispatch::OPERATIONS) is a
// method of the client, by the naming rule of docs/sdk-contract.md#node-the-generated-surface.

const { it } = require('node:test');
const assert = require('node:assert/strict');

const native = require('../lib/native-binding.js');
const keyward = require('..');

const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

it('the generated OPERATIONS are the native operations, in the same order', () => {
  assert.deepEqual([...keyward.OPERATIONS], native.NativeClient.operations());
  assert.ok(keyward.OPERATIONS.includes('api_keys.get_usage'));
  assert.ok(Object.isFrozen(keyward.OPERATIONS));
});

it('every native operation is reachable as client[camel(resource)][camel(method)]', () => {
  const client = new keyward.Keyward({ apiKey: 'kw_live_x', baseURL: 'http://127.0.0.1:9' });
  for (const operation of native.NativeClient.operations()) {
    const [resource, method] = operation.split('.');
    const handle = client[camel(resource)];
    assert.ok(handle, `client.${camel(resource)} (${operation})`);
    const name = camel(method === 'list_page' ? 'list' : method);
    assert.equal(typeof handle[name], 'function', `client.${camel(resource)}.${name} (${operation})`);
    if (method === 'list_page') assert.equal(typeof handle.listPage, 'function', `client.${camel(resource)}.listPage`);
  }
});

it('the resource classes are exported by name', () => {
  const client = new keyward.Keyward({ apiKey: 'kw_live_x', baseURL: 'http://127.0.0.1:9' });
  assert.ok(client.apiKeys instanceof keyward.ApiKeys);
  assert.ok(client.webhookSigningSecret instanceof keyward.WebhookSigningSecret);
});

it('a bad argument rejects before anything is sent', async () => {
  const client = new keyward.Keyward({ apiKey: 'kw_live_x', baseURL: 'http://127.0.0.1:9', maxRetries: 0 });
  await assert.rejects(client.apiKeys.getUsage(''), (error) => error instanceof keyward.KeywardError && /id must be/.test(error.message));
  await assert.rejects(client.apiKeys.create(null), (error) => error instanceof keyward.KeywardError && /params must be an object/.test(error.message));
  const unknown = await client.apiKeys.getUsage('01900000-0000-7000-8000-000000000000', { granularity: 'week' }).catch((error) => error);
  assert.ok(unknown instanceof keyward.KeywardError && !(unknown instanceof keyward.APIError), String(unknown));
  assert.equal(unknown.type, 'invalid_argument');
});
