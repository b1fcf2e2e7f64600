'use strict';
// The package as a user gets it: `npm pack`, install the tarball into an empty
// project (offline: the package has no runtime dependencies), then load it
// from CommonJS and ESM, including the keyward/express subpath.

const { it } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

it('npm pack builds the release addon first (prepack), so a debug build is never shipped', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.scripts.prepack, 'npm run build:release');
  assert.match(pkg.scripts['build:release'], /napi build .*--release/);
});

it('npm pack → npm install <tarball> in an empty project → require/import work', { timeout: 180000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyward-pack-'));
  try {
    // --ignore-scripts: the prepack script builds the release addon (minutes); this
    // test is about what the package holds and how it loads, so it packs the
    // addon the suite built. package.json's prepack is checked below.
    const packed = execFileSync(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [info] = JSON.parse(packed.slice(packed.indexOf('[')));
    const files = info.files.map((file) => file.path);
    for (const expected of ['index.js', 'index.d.ts', 'express.js', 'express.d.ts', 'native.js', 'lib/client.js', 'package.json']) {
      assert.ok(files.includes(expected), `${expected} is packed`);
    }
    assert.ok(files.some((file) => /^keyward\..+\.node$/.test(file)), 'the built addon is packed');
    assert.ok(!files.some((file) => file.startsWith('node_modules/') || file.startsWith('src/') || file.startsWith('test/')));

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    execFileSync(NPM, ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, info.filename)], {
      cwd: app,
      timeout: 120000,
      stdio: ['ignore', 'ignore', 'pipe'],
    });

    const cjs = execFileSync(
      process.execPath,
      ['-e', `
        const { Keyward, SecretKey, NotFoundError, APIError } = require('keyward');
        const { requireKey } = require('keyward/express');
        const client = new Keyward({ apiKey: 'kw_live_x', baseURL: 'http://127.0.0.1:9' });
        const secret = new SecretKey('kw_live_abcdEFGH');
        console.log(typeof client.apiKeys.create, typeof requireKey({ client }), String(secret), new NotFoundError(404, 'not_found', 'm', 'r') instanceof APIError);
      `],
      { cwd: app, encoding: 'utf8', timeout: 30000 },
    );
    assert.equal(cjs.trim(), 'function function kw_live_abcd… true');

    const esm = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `
        import { Keyward, KeywardError, webhooks, Webhook, WebhookVerificationError, keyHash } from 'keyward';
        import { requireKey } from 'keyward/express';
        try { new Keyward({ apiKey: '' }); } catch (error) { console.log(error instanceof KeywardError, typeof requireKey); }
        const signature = new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').sign('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
        try { webhooks.verify('{}', {}, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'); } catch (error) { console.log(signature, error instanceof WebhookVerificationError, error.code); }
        console.log(keyHash('test'));
      `],
      { cwd: app, encoding: 'utf8', timeout: 30000, env: { ...process.env, KEYWARD_API_KEY: '' } },
    );
    assert.equal(
      esm.trim(),
      'true function\nv1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= true missing_header\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
