'use strict';
// End-to-end tenancy surface (issue 8) against a real keyward server started
// with an HS256 session secret: organizations, members, environments, audit
// events, project deletion, and the organizationId client option. Session JWTs
// are minted here with node:crypto (HS256 over the raw UTF-8 secret).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const {
  Keyward,
  KeywardError,
  APIError,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  PageIterator,
} = require('..');
const { startServer } = require('./helpers/server.js');

const TEST_TIMEOUT = { timeout: 60000 };
const SECRET = 'keyward-node-test-session-secret';

const base64url = (value) => Buffer.from(value).toString('base64url');

/** An HS256 session JWT for `sub`, valid for 10 minutes. */
function session(sub, extra = {}, secret = SECRET) {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 600, ...extra }));
  const signature = crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

let server;
/** The bootstrap admin key's client (another organization than the users'). */
let admin;
let alice;
let bob;

const clientFor = (apiKey, options = {}) => new Keyward({ apiKey, baseURL: server.baseURL, maxRetries: 0, ...options });

before(async () => {
  server = await startServer({ jwtSecret: SECRET });
  admin = clientFor(server.adminKey);
  alice = clientFor(session('alice'));
  bob = clientFor(session('bob'));
});

after(async () => {
  if (server) await server.stop();
});

/** Asserts `promise` rejects with an instance of every class in `classes`; returns the error. */
async function rejectsWith(promise, classes) {
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  for (const Class of classes) {
    assert.ok(caught instanceof Class, `expected ${Class.name}, got ${caught && caught.constructor.name}: ${caught && caught.message}`);
  }
  return caught;
}

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) {
    items.push(item);
    assert.ok(items.length < 1000, 'bounded');
  }
  return items;
}

describe('organizations', TEST_TIMEOUT, () => {
  it('a session with no organization lists none, then create → get → update → list → delete', async () => {
    const carol = clientFor(session('carol'));
    assert.deepEqual(await collect(carol.organizations.list()), []);

    const created = await carol.organizations.create({ name: 'Carol Co', keyPrefix: 'carol' });
    assert.equal(created.name, 'Carol Co');
    assert.equal(created.keyPrefix, 'carol');
    assert.equal(created.role, 'owner');
    for (const field of ['id', 'createdAt', 'updatedAt']) assert.ok(created[field], `missing ${field}`);
    assert.ok(!Object.keys(created).some((name) => name.includes('_')), 'no snake_case keys in results');

    const fetched = await carol.organizations.get(created.id);
    assert.deepEqual(fetched, created);

    const renamed = await carol.organizations.update(created.id, { name: 'Carol Inc' });
    assert.equal(renamed.name, 'Carol Inc');
    assert.equal(renamed.keyPrefix, 'carol', 'absent fields are left alone');

    const second = await carol.organizations.create({ name: 'Carol Two' });
    // Pages of one: the iterator follows the cursor across both.
    const listed = carol.organizations.list({ limit: 1 });
    assert.ok(listed instanceof PageIterator);
    const ids = (await collect(listed)).map((org) => org.id);
    assert.deepEqual([...ids].sort(), [created.id, second.id].sort());
    const page = await carol.organizations.listPage({ limit: 1 });
    assert.equal(page.data.length, 1);
    assert.ok(page.nextCursor);

    assert.equal(await carol.organizations.delete(second.id), undefined);
    await rejectsWith(carol.organizations.get(second.id), [NotFoundError, APIError]);
    assert.deepEqual((await collect(carol.organizations.list())).map((org) => org.id), [created.id]);
  });

  it('an API key sees only its own organization (role null) and cannot create one', async () => {
    const orgs = await collect(admin.organizations.list());
    assert.deepEqual(orgs.map((org) => org.id), [server.organizationId]);
    assert.equal(orgs[0].role, null, 'role is null, not undefined, for a key');
    await rejectsWith(admin.organizations.create({ name: 'nope' }), [PermissionDeniedError, APIError]);
  });

  it('a bad argument is a KeywardError before anything is sent', async () => {
    await rejectsWith(alice.organizations.get(''), [KeywardError]);
    await rejectsWith(alice.organizations.get('not-a-uuid'), [KeywardError]);
    await rejectsWith(alice.members.update(server.organizationId, '', { role: 'admin' }), [KeywardError]);
    await rejectsWith(alice.members.add(server.organizationId, { userId: 'x', role: 'emperor' }), [KeywardError]);
  });
});

describe('members, environments, audit events, project delete, tenancy', TEST_TIMEOUT, () => {
  let org;

  before(async () => {
    org = await alice.organizations.create({ name: 'Alice Org', keyPrefix: 'alice' });
  });

  it('add → update → remove; the last owner cannot be demoted or removed (409 ConflictError)', async () => {
    const added = await alice.members.add(org.id, { userId: 'bob', role: 'admin' });
    assert.deepEqual(Object.keys(added).sort(), ['createdAt', 'organizationId', 'role', 'userId']);
    assert.equal(added.organizationId, org.id);
    assert.equal(added.userId, 'bob');
    assert.equal(added.role, 'admin');
    // Bob sees the organization now, with his role.
    assert.equal((await bob.organizations.get(org.id)).role, 'admin');
    // Adding him again conflicts.
    await rejectsWith(alice.members.add(org.id, { userId: 'bob', role: 'viewer' }), [ConflictError, APIError]);

    const demoted = await alice.members.update(org.id, 'bob', { role: 'viewer' });
    assert.equal(demoted.role, 'viewer');

    const error = await rejectsWith(alice.members.update(org.id, 'alice', { role: 'admin' }), [ConflictError, APIError, KeywardError]);
    assert.equal(error.status, 409);
    assert.equal(error.name, 'ConflictError');
    assert.match(error.message, /last owner/);
    assert.ok(error.requestId);
    await rejectsWith(alice.members.remove(org.id, 'alice'), [ConflictError]);

    await alice.members.add(org.id, { userId: 'dave', role: 'member' });
    const members = await collect(alice.members.list(org.id, { limit: 1 }));
    assert.deepEqual(members.map((m) => m.userId).sort(), ['alice', 'bob', 'dave']);
    assert.equal(members.find((m) => m.userId === 'alice').role, 'owner');
    const page = await alice.members.listPage(org.id, { limit: 2 });
    assert.equal(page.data.length, 2);
    assert.equal(typeof page.nextCursor, 'string', 'the cursor is a user id');

    assert.equal(await alice.members.remove(org.id, 'dave'), undefined);
    assert.deepEqual((await collect(alice.members.list(org.id))).map((m) => m.userId).sort(), ['alice', 'bob']);
    // A viewer cannot manage members.
    await rejectsWith(bob.members.add(org.id, { userId: 'eve', role: 'viewer' }), [PermissionDeniedError]);
  });

  it('organizationId selects the organization a session acts in (and KEYWARD_ORGANIZATION_ID)', async () => {
    // Bob's first organization is Alice's (his only one), so create one of his
    // own and pick between them with X-Organization-Id.
    const bobsOwn = await bob.organizations.create({ name: 'Bob Org' });
    const inAlices = clientFor(session('bob'), { organizationId: org.id });
    assert.equal(inAlices.organizationId, org.id);
    const inBobs = clientFor(session('bob'), { organizationId: bobsOwn.id });
    const projectInBobs = await inBobs.projects.create({ name: 'bob project' });
    assert.equal(projectInBobs.organizationId, bobsOwn.id);
    // A viewer in Alice's organization cannot create projects there.
    await rejectsWith(inAlices.projects.create({ name: 'nope' }), [PermissionDeniedError]);

    const saved = process.env.KEYWARD_ORGANIZATION_ID;
    try {
      process.env.KEYWARD_ORGANIZATION_ID = bobsOwn.id;
      const fromEnv = clientFor(session('bob'));
      assert.equal(fromEnv.organizationId, bobsOwn.id);
      const projects = await collect(fromEnv.projects.list());
      assert.deepEqual(projects.map((p) => p.id), [projectInBobs.id]);
      process.env.KEYWARD_ORGANIZATION_ID = 'not-a-uuid';
      assert.throws(() => clientFor(session('bob')), KeywardError);
    } finally {
      if (saved === undefined) delete process.env.KEYWARD_ORGANIZATION_ID;
      else process.env.KEYWARD_ORGANIZATION_ID = saved;
    }
    assert.equal(clientFor(session('bob')).organizationId, null);
    await bob.organizations.delete(bobsOwn.id);
  });

  it('environments: live and test exist, create another, a duplicate conflicts', async () => {
    const inOrg = clientFor(session('alice'), { organizationId: org.id });
    const project = await inOrg.projects.create({ name: 'env project' });
    assert.equal(project.organizationId, org.id);

    const names = (await collect(inOrg.environments.list(project.id))).map((env) => env.name);
    assert.deepEqual([...names].sort(), ['live', 'test']);

    const staging = await inOrg.environments.create(project.id, { name: 'staging' });
    assert.equal(staging.name, 'staging');
    assert.equal(staging.organizationId, org.id);
    assert.deepEqual(Object.keys(staging).sort(), ['createdAt', 'id', 'name', 'organizationId']);
    await rejectsWith(inOrg.environments.create(project.id, { name: 'staging' }), [ConflictError]);

    const paged = await collect(inOrg.environments.list(project.id, { limit: 1 }));
    assert.deepEqual(paged.map((env) => env.name).sort(), ['live', 'staging', 'test']);
    const page = await inOrg.environments.listPage(project.id, { limit: 2 });
    assert.equal(page.data.length, 2);
    assert.ok(page.nextCursor);

    // A key in that environment carries its name.
    const key = await inOrg.apiKeys.create({ projectId: project.id, name: 'staging key', environment: 'staging' });
    assert.equal(key.environment, 'staging');
    assert.equal(key.environmentId, staging.id);
    assert.equal(key.source, 'dashboard');
    assert.equal(key.createdByUserId, 'alice');
  });

  it('projects.delete: the project and its keys are gone', async () => {
    const inOrg = clientFor(session('alice'), { organizationId: org.id });
    const project = await inOrg.projects.create({ name: 'doomed' });
    const key = await inOrg.apiKeys.create({ projectId: project.id, name: 'doomed key' });
    assert.equal((await inOrg.keys.verify({ key: key.key, cost: 0 })).valid, true);

    assert.equal(await inOrg.projects.delete(project.id), undefined);
    await rejectsWith(inOrg.projects.get(project.id), [NotFoundError]);
    assert.ok(!(await collect(inOrg.projects.list())).some((p) => p.id === project.id));
    assert.equal((await inOrg.keys.verify({ key: key.key, cost: 0 })).valid, false);
  });

  it('audit events: filters by action, actor, target and time; for await over pages', async () => {
    const inOrg = clientFor(session('alice'), { organizationId: org.id });
    const since = new Date(Date.now() - 10 * 60 * 1000);

    const all = await collect(inOrg.auditEvents.list({ since }));
    const actions = new Set(all.map((event) => event.action));
    for (const action of ['organization.created', 'member.added', 'member.updated', 'member.removed', 'environment.created', 'project.created', 'project.deleted']) {
      assert.ok(actions.has(action), `${action} in ${[...actions].join(', ')}`);
    }
    assert.ok(all.every((event) => event.organizationId === org.id), 'only this organization');
    // Newest first.
    const times = all.map((event) => Date.parse(event.createdAt));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));

    const added = await collect(inOrg.auditEvents.list({ action: 'member.added', actorId: 'alice' }));
    assert.deepEqual(added.map((event) => event.target.id).sort(), ['bob', 'dave']);
    const event = added[0];
    assert.deepEqual(event.actor, { type: 'user', id: 'alice' });
    assert.equal(event.target.type, 'user');
    for (const field of ['id', 'ip', 'userAgent', 'requestId', 'createdAt', 'changes']) {
      assert.ok(field in event, `missing ${field}`);
    }
    assert.match(event.userAgent, /^keyward-node\//);
    assert.equal(typeof event.changes, 'object');

    const bobOnly = await collect(inOrg.auditEvents.list({ targetId: 'bob', limit: 1 }));
    assert.ok(bobOnly.length >= 2, 'added and updated, across pages of one');
    assert.ok(bobOnly.every((e) => e.target.id === 'bob'));

    assert.deepEqual(await collect(inOrg.auditEvents.list({ until: since })), []);
    assert.deepEqual(await collect(inOrg.auditEvents.list({ since: new Date(Date.now() + 60 * 60 * 1000).toISOString() })), []);

    const page = await inOrg.auditEvents.listPage({ limit: 1 });
    assert.equal(page.data.length, 1);
    assert.ok(page.nextCursor);

    // A viewer may not read the audit log.
    await rejectsWith(clientFor(session('bob'), { organizationId: org.id }).auditEvents.listPage(), [PermissionDeniedError]);
  });

  it("another tenant's objects answer 404 → NotFoundError", async () => {
    const inOrg = clientFor(session('alice'), { organizationId: org.id });
    const project = await inOrg.projects.create({ name: 'private' });

    // The bootstrap admin key belongs to another organization.
    for (const call of [
      () => admin.organizations.get(org.id),
      () => admin.organizations.update(org.id, { name: 'hijacked' }),
      () => admin.organizations.delete(org.id),
      () => admin.members.listPage(org.id),
      () => admin.members.add(org.id, { userId: 'mallory', role: 'owner' }),
      () => admin.members.remove(org.id, 'alice'),
      () => admin.environments.listPage(project.id),
      () => admin.environments.create(project.id, { name: 'evil' }),
      () => admin.projects.get(project.id),
      () => admin.projects.delete(project.id),
    ]) {
      const error = await rejectsWith(call(), [NotFoundError, APIError]);
      assert.equal(error.status, 404);
    }
    // Nor does a user who is not a member, even when naming the organization.
    const mallory = clientFor(session('mallory'), { organizationId: org.id });
    await rejectsWith(mallory.organizations.get(org.id), [NotFoundError]);
    await rejectsWith(mallory.projects.get(project.id), [NotFoundError]);
    // The admin's own audit log has none of Alice's events.
    const adminEvents = await collect(admin.auditEvents.list());
    assert.ok(adminEvents.every((event) => event.organizationId === server.organizationId));
    // Still intact.
    assert.equal((await alice.organizations.get(org.id)).name, 'Alice Org');
    assert.equal((await inOrg.projects.get(project.id)).id, project.id);
  });
});
