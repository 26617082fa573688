// The command lines of every program: --version prints the one version of
// CMakeLists.txt, --help (also per subcommand) prints usage on stdout and
// exits 0; a missing or unknown command or argument prints why and usage
// on stderr and exits 2, without starting anything (a bare `livegate`
// must not bind the gateway's port).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { bin, childEnv, freePort } from './lib/system.mjs';

const version = /project\(livegate VERSION (\d+\.\d+\.\d+)/.exec(readFileSync('../CMakeLists.txt', 'utf8'))[1];

function run(file, args, env = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { env: childEnv(env), timeout: 10000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, killed: err?.killed ?? false, stdout, stderr });
    });
  });
}

test('--version of every program is the version in CMakeLists.txt', async () => {
  for (const [which, name, args] of [['gateway', 'livegate', ['--version']], ['gateway', 'livegate', ['-V']],
    ['validator', 'livegate-validator', ['--version']], ['bench', 'livegate-bench', ['--version']]]) {
    const r = await run(bin(which), args);
    assert.equal(r.code, 0, `${name} ${args}: ${r.stderr}`);
    assert.equal(r.stdout, `${name} ${version}\n`);
  }
});

test('--help of every program and subcommand is usage on stdout, exit 0', async () => {
  const cases = [
    ['gateway', ['--help'], /usage: livegate serve[\s\S]*livegate token/],
    ['gateway', ['-h'], /usage: livegate serve/],
    ['gateway', ['help'], /usage: livegate serve/],
    ['gateway', ['serve', '--help'], /usage: livegate serve\nRuns one gateway process/],
    ['gateway', ['token', '--help'], /usage: livegate token --sub USER[\s\S]*--ttl SECONDS/],
    ['validator', ['--help'], /usage: livegate-validator\n[\s\S]*SIGTERM/],
    ['bench', ['--help'], /--version/],
  ];
  for (const [which, args, want] of cases) {
    const r = await run(bin(which), args);
    assert.equal(r.code, 0, `${which} ${args}: ${r.stderr}`);
    assert.match(r.stdout, want, `${which} ${args}`);
    assert.equal(r.stderr, '');
  }
});

test('a bare livegate prints usage and exits 2 without serving', async () => {
  const port = await freePort();
  // Everything a gateway needs to start, so only the missing command stops it.
  const r = await run(bin('gateway'), [], {
    LIVEGATE_DEMO: '1', LIVEGATE_LISTEN: `127.0.0.1:${port}`, LIVEGATE_REDIS_URL: 'redis://127.0.0.1:1/0',
  });
  assert.equal(r.code, 2);
  assert.equal(r.killed, false);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^livegate: a command is needed \(livegate serve runs the gateway\)\nusage: livegate serve/);
  const bound = await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
  assert.equal(bound, false);
});

test('bad commands and arguments say why on stderr and exit 2', async () => {
  const cases = [
    ['gateway', ['bogus'], /^livegate: unknown command 'bogus'\nusage: livegate serve/],
    ['gateway', ['serve', 'extra'], /^livegate serve: takes no arguments/],
    ['gateway', ['--help', 'extra'], /^livegate: unexpected argument/],
    ['gateway', ['--version', 'extra'], /^livegate: unknown command '--version'/],
    ['gateway', ['token'], /^livegate token: --sub, --room and --role are required\nusage: livegate token/],
    ['gateway', ['token', '--sub', 'u', '--room', 'r'], /--sub, --room and --role are required/],
    ['gateway', ['token', '--sub', 'u', '--room', 'r', '--role', 'king'], /--role must be viewer, operator or admin/],
    ['gateway', ['token', '--sub', 'u', '--room', 'r', '--role', 'viewer', '--ttl', '0'], /--ttl must be a whole number/],
    ['gateway', ['token', '--sub', 'u', '--room', 'r', '--role', 'viewer', '--ttl', '10s'], /--ttl must be a whole number/],
    ['gateway', ['token', '--sub', 'u', '--room', 'r', '--role', 'viewer', '--tier', 'gold'], /--tier must be vip/],
    ['gateway', ['token', '--sub', 'u', '--room', 'r', '--role', 'viewer', 'stray'], /unexpected argument/],
    ['gateway', ['token', '--nope'], /unknown option or missing value/],
    ['validator', ['--nope'], /^livegate-validator: unexpected argument '--nope'\nusage: livegate-validator/],
    ['validator', ['--help', 'x'], /^livegate-validator: unexpected argument '--help'/],
  ];
  for (const [which, args, want] of cases) {
    const r = await run(bin(which), args, { LIVEGATE_JWT_SECRET: 'x'.repeat(32) });
    assert.equal(r.code, 2, `${which} ${args}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, want, `${which} ${args}`);
    assert.equal(r.stdout, '', `${which} ${args}`);
  }
});

test('livegate token mints with good arguments, at the --ttl bound too', async () => {
  for (const ttl of ['1', '86400']) {
    const r = await run(bin('gateway'), ['token', '--sub', 'u', '--room', 'r', '--role', 'viewer', '--tier', 'vip', '--ttl', ttl],
      { LIVEGATE_JWT_SECRET: 'x'.repeat(32) });
    assert.equal(r.code, 0, r.stderr);
    const claims = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1], 'base64url'));
    assert.equal(claims.sub, 'u');
    assert.ok(Math.abs(claims.exp - Date.now() / 1000 - Number(ttl)) < 5);
  }
});
