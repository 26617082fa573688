// cmake --install into a scratch prefix: the programs, the pages, the docs,
// the example settings and the systemd units land in the GNUInstallDirs
// places; the installed gateway serves the installed pages with no
// LIVEGATE_WEB_ROOT; the units name the installed programs, carry the
// hardening options, and pass `systemd-analyze verify` where systemd
// provides it (a broken copy is refused, so the check is known to work
// here), and `systemd-analyze security --offline` rates their exposure OK.
// scripts/setup.sh installs systemd for systemd-analyze; where it is still
// missing the test fails rather than pass unchecked. The units are not run
// here: containers have no systemd as PID 1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, spawnTracked, startRedis, stopAll, waitFor, newSecrets } from './lib/system.mjs';

const buildDir = process.env.LIVEGATE_BUILD_DIR;
let prefix;
const units = ['livegate@.service', 'livegate-validator.service'];

function sh(file, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 120000, ...opts }, (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, out: stdout + stderr }));
  });
}

before(async () => {
  if (!buildDir) throw new Error('LIVEGATE_BUILD_DIR is not set: run through ctest');
  prefix = mkdtempSync(path.join(os.tmpdir(), 'lg-install-'));
  const r = await sh('cmake', ['--install', buildDir, '--prefix', prefix]);
  assert.equal(r.code, 0, r.out);
});
after(async () => {
  await stopAll();
  if (prefix) rmSync(prefix, { recursive: true, force: true });
});

test('the programs, pages, docs, settings example and units are installed', () => {
  for (const p of ['bin/livegate', 'bin/livegate-validator', 'bin/livegate-bench']) {
    assert.ok(statSync(path.join(prefix, p)).mode & 0o111, `${p} is executable`);
  }
  for (const p of ['share/livegate/web/index.html', 'share/livegate/web/dashboard.html', 'share/livegate/web/static',
    'share/livegate/livegate.env.example', 'share/doc/livegate/README.md', 'share/doc/livegate/LICENSE',
    'share/doc/livegate/CHANGELOG.md', 'share/doc/livegate/docs/PROTOCOL.md',
    ...units.map((u) => `lib/systemd/system/${u}`)]) {
    assert.ok(existsSync(path.join(prefix, p)), p);
  }
  const version = execFileSync(path.join(prefix, 'bin/livegate'), ['--version']).toString();
  assert.match(version, /^livegate \d+\.\d+\.\d+\n$/);
});

test('the installed gateway serves the installed pages without LIVEGATE_WEB_ROOT', async () => {
  const marker = `<!-- installed copy ${process.pid} -->`;
  appendFileSync(path.join(prefix, 'share/livegate/web/index.html'), marker);
  const redis = await startRedis();
  const port = await freePort();
  const { secret, dataKey } = newSecrets();
  spawnTracked(path.join(prefix, 'bin/livegate'), ['serve'], {
    name: 'installed gateway',
    env: { LIVEGATE_JWT_SECRET: secret, LIVEGATE_DATA_KEY: dataKey, LIVEGATE_REDIS_URL: redis.url, LIVEGATE_LISTEN: `127.0.0.1:${port}` },
  });
  const page = await waitFor(async () => {
    const r = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
    return r && r.status === 200 ? r.text() : null;
  }, { what: 'the installed gateway serving /' });
  assert.ok(page.includes(marker), 'the page comes from the installed share/livegate/web');
});

test('the units name the installed programs and carry the hardening options', () => {
  const hardening = ['DynamicUser=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes',
    'NoNewPrivileges=yes', 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX', 'CapabilityBoundingSet=',
    'SystemCallFilter=@system-service', 'KillSignal=SIGTERM', 'Restart=on-failure', 'EnvironmentFile=/etc/livegate/livegate.env'];
  const text = (u) => readFileSync(path.join(prefix, 'lib/systemd/system', u), 'utf8');
  const lines = (u) => text(u).split('\n');
  for (const u of units) for (const h of hardening) assert.ok(lines(u).includes(h), `${u}: ${h}`);
  assert.ok(lines('livegate@.service').includes(`ExecStart=${prefix}/bin/livegate serve`));
  assert.ok(lines('livegate@.service').includes('LimitNOFILE=1048576'));
  assert.ok(lines('livegate@.service').includes('Environment=LIVEGATE_GATEWAY_ID=gw-%H-%i'));
  assert.ok(lines('livegate-validator.service').includes(`ExecStart=${prefix}/bin/livegate-validator`));
  assert.doesNotMatch(text('livegate@.service') + text('livegate-validator.service'), /@[A-Z_]+@/);
});

const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((f) => existsSync(f));
test('systemd-analyze verify passes the units and refuses a broken one', async () => {
  assert.ok(analyze, 'systemd-analyze is not installed (scripts/setup.sh installs systemd): the units were NOT verified');
  const dir = path.join(prefix, 'lib/systemd/system');
  const ok = await sh(analyze, ['verify', '--man=no', ...units.map((u) => path.join(dir, u))]);
  assert.equal(ok.code, 0, ok.out);
  assert.equal(ok.out.trim(), '', `systemd-analyze said:\n${ok.out}`);
  // The same check on a broken copy must complain, or it proves nothing here.
  const bad = mkdtempSync(path.join(os.tmpdir(), 'lg-badunit-'));
  try {
    const broken = readFileSync(path.join(dir, 'livegate@.service'), 'utf8')
      .replace('NoNewPrivileges=yes', 'NoNewPrivileges=maybe').replace(/ExecStart=\S+/, 'ExecStart=/nonexistent/livegate');
    writeFileSync(path.join(bad, 'livegate@.service'), broken);
    const r = await sh(analyze, ['verify', '--man=no', path.join(bad, 'livegate@.service')]);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /Failed to parse boolean value/);
    assert.match(r.out, /\/nonexistent\/livegate is not executable/);
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
  // systemd's own score of the hardening: at most 2.0 of 10 ("OK") for both.
  for (const u of units) {
    const r = await sh(analyze, ['security', '--offline=true', '--man=no', '--threshold=20', path.join(dir, u)]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Overall exposure level for .*: [01]\.\d OK/);
  }
});
