'use strict';
// The scenario every SDK runs (tests/fixtures/sdk-scenario.json; its
// `description` holds the rules) through the public Node surface, against a
// real server. Each step is one method call:
// client[camel(resource)][camel(method)], path parameters positionally in
// path order, then one camelCase params object (the body's fields or the
// query parameters; SIGNATURES says which). Results come back to the
// scenario's snake_case JSON, a SecretKey as its `.value`. The run must call
// every entry of OPERATIONS: an operation added to the spec fails here until
// the scenario calls it.

const { it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');

const { Keyward, SecretKey, OPERATIONS } = require('..');
const { SIGNATURES } = require('../lib/resources.js');
const { toCamel, toSnake, camelKey, snakeKey } = require('../lib/case.js');
const { startServer, sleep, WORKSPACE } = require('./helpers/server.js');

const SCENARIO = JSON.parse(fs.readFileSync(path.join(WORKSPACE, 'tests', 'fixtures', 'sdk-scenario.json'), 'utf8'));
const SECRET = 'keyward-node-scenario-session-secret';
/** A step with `until` is repeated at most this often, 50 ms apart. */
const UNTIL_POLLS = 200;
const UNTIL_INTERVAL_MS = 50;
const STEP_KEYS = new Set(['as', 'op', 'args', 'save', 'expect', 'until']);
const REFERENCE = /\$\{([^}]*)\}/g;
/** What a JSON pointer that points nowhere yields. */
const ABSENT = Symbol('absent');

/** An HS256 session JWT for `sub`, valid for 10 minutes. */
function session(sub) {
  const base64url = (value) => Buffer.from(value).toString('base64url');
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 600 }));
  const signature = crypto.createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function resolve(reference, saved) {
  const [name, ...segments] = reference.split('.');
  assert.ok(Object.hasOwn(saved, name), `\${${reference}}: nothing saved as ${name}`);
  let value = saved[name];
  for (const segment of segments) {
    assert.ok(value !== null && typeof value === 'object' && Object.hasOwn(value, segment), `\${${reference}}: no ${segment} in ${JSON.stringify(value)}`);
    value = value[segment];
  }
  return value;
}

/** `value` with every `${…}` reference replaced (the fixture's rule). */
function substitute(value, saved) {
  if (typeof value === 'string') {
    const whole = /^\$\{([^}]*)\}$/.exec(value);
    if (whole) return resolve(whole[1], saved);
    return value.replace(REFERENCE, (_, reference) => {
      const inner = resolve(reference, saved);
      assert.ok(typeof inner === 'string' || typeof inner === 'number', `${value}: ${JSON.stringify(inner)} in a string`);
      return String(inner);
    });
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, saved));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, substitute(inner, saved)]));
  return value;
}

/** RFC 6901: the value at `pointer`, or ABSENT. */
function pointerGet(document, pointer) {
  if (pointer === '') return document;
  let value = document;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, token)) return ABSENT;
    value = value[token];
  }
  return value;
}

/** A result as the scenario's JSON (SecretKeys as plaintext, remembering where they were). */
function unwrap(value, pointer, secrets) {
  if (value instanceof SecretKey) {
    secrets.add(pointer);
    return value.value;
  }
  if (Array.isArray(value)) return value.map((inner, index) => unwrap(inner, `${pointer}/${index}`, secrets));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, unwrap(inner, `${pointer}/${snakeKey(key)}`, secrets)]));
}

function resultJson(operation, result, secrets) {
  if (result === undefined) return null;
  if (operation.endsWith('.list_page')) {
    assert.deepEqual(Object.keys(result).sort(), ['data', 'nextCursor'], operation);
    result = { items: result.data, nextCursor: result.nextCursor };
  }
  // camelCase → snake_case; meta, changes and payload stay as they are (lib/case.js).
  return toSnake(unwrap(result, '', secrets));
}

/** Why `actual` is not what `expected` says, or null. */
function check(expected, actual, pointer, secrets) {
  const keys = isPlainObject(expected) ? Object.keys(expected) : [];
  if (keys.length === 1 && keys[0].startsWith('$')) {
    const argument = expected[keys[0]];
    switch (keys[0]) {
      case '$length':
        return Array.isArray(actual) && actual.length === argument ? null : `expected an array of ${argument} items, got ${util.inspect(actual)}`;
      case '$prefix':
        return typeof actual === 'string' && actual.startsWith(argument) ? null : `expected a string starting with ${argument}, got ${util.inspect(actual)}`;
      case '$secret':
        return secrets.has(pointer) ? check(argument, actual, pointer, secrets) : `expected a SecretKey, got ${util.inspect(actual)}`;
      default:
        return `unknown matcher ${keys[0]}`;
    }
  }
  if (expected === null && actual === ABSENT) return null;
  return util.isDeepStrictEqual(expected, actual) ? null : `expected ${JSON.stringify(expected)}, got ${actual === ABSENT ? 'absent' : util.inspect(actual)}`;
}

/** Dispatch arguments → [path parameters in path order, params object or undefined]. */
function callArguments(operation, args) {
  const signature = SIGNATURES[operation];
  assert.ok(signature, `${operation} is not in SIGNATURES`);
  const rest = { ...args };
  const positional = signature.path.map((name) => {
    assert.ok(Object.hasOwn(rest, name), `${operation}: path parameter ${name} missing`);
    const value = rest[name];
    delete rest[name];
    return value;
  });
  if (Object.hasOwn(rest, 'body')) {
    assert.ok(signature.body, `${operation} takes no body`);
    const { body, ...others } = rest;
    assert.deepEqual(Object.keys(others), [], `${operation}: arguments besides the body`);
    return [positional, toCamel(body)];
  }
  for (const name of Object.keys(rest)) assert.ok(signature.query.includes(name), `${operation} takes no argument ${name}`);
  const takesParams = signature.body || signature.query.length > 0;
  return [positional, takesParams && Object.keys(rest).length > 0 ? toCamel(rest) : undefined];
}

async function runScenario(clients, given) {
  const saved = { ...given };
  const called = new Set();
  for (const [index, step] of SCENARIO.steps.entries()) {
    for (const key of Object.keys(step)) assert.ok(STEP_KEYS.has(key), `step ${index}: ${key}?`);
    const operation = step.op;
    const context = `step ${index} (${operation})`;
    const client = clients[step.as];
    assert.ok(client, `${context}: as ${step.as}`);
    const [resource, method] = operation.split('.');
    const handle = client[camelKey(resource)];
    const fn = handle && handle[camelKey(method)];
    assert.equal(typeof fn, 'function', `${context}: client.${camelKey(resource)}.${camelKey(method)}`);
    const [positional, params] = callArguments(operation, substitute(step.args ?? {}, saved));
    const callArgs = params === undefined ? positional : [...positional, params];
    let result;
    let secrets;
    for (let poll = 0; ; poll++) {
      let raw;
      try {
        raw = await fn.apply(handle, callArgs);
      } catch (error) {
        throw new Error(`${context}: ${error && error.stack}`, { cause: error });
      } finally {
        called.add(operation);
      }
      secrets = new Set();
      result = resultJson(operation, raw, secrets);
      if (step.until === undefined || pointerGet(result, step.until) !== ABSENT) break;
      assert.ok(poll + 1 < UNTIL_POLLS, `${context}: no ${step.until} after ${UNTIL_POLLS} polls: ${JSON.stringify(result)}`);
      await sleep(UNTIL_INTERVAL_MS);
    }
    if (step.save !== undefined) saved[step.save] = result;
    for (const [pointer, expected] of Object.entries(step.expect ?? {})) {
      const problem = check(substitute(expected, saved), pointerGet(result, pointer), pointer, secrets);
      assert.equal(problem, null, `${context}: ${pointer}: ${problem}; result: ${JSON.stringify(result)}`);
    }
  }
  return called;
}

let server;

before(async () => {
  server = await startServer({ jwtSecret: SECRET });
});

after(async () => {
  if (server) await server.stop();
});

it('the shared scenario calls every operation through the public surface', { timeout: 120000 }, async () => {
  const run = crypto.randomBytes(4).toString('hex');
  const options = { baseURL: server.baseURL, maxRetries: 0 };
  const clients = {
    admin: new Keyward({ apiKey: server.adminKey, ...options }),
    alice: new Keyward({ apiKey: session(`alice-${run}`), ...options }),
  };
  const called = await runScenario(clients, { admin_org: server.organizationId, run });
  const missed = OPERATIONS.filter((operation) => !called.has(operation));
  assert.deepEqual(missed, [], `operations of the spec that tests/fixtures/sdk-scenario.json never calls: ${missed.join(', ')}`);
});
