// check-monitoring.mjs - checks deploy/: the Prometheus alert rules with
// promtool (check rules, then the unit tests of livegate-rules.test.yml),
// the Grafana dashboard's JSON, the PromQL of every panel (as recording
// rules promtool checks), and that every livegate_* metric the rules and
// the dashboard use is one the programs export. promtool is required:
// scripts/setup.sh installs it (Debian's prometheus package); without it
// this fails rather than skips.
//
// usage: node check-monitoring.mjs <source root>
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = process.argv[2];
if (!root) {
  console.error('usage: check-monitoring.mjs <source root>');
  process.exit(2);
}
const rules = path.join(root, 'deploy/prometheus/livegate-rules.yml');
const ruleTests = path.join(root, 'deploy/prometheus/livegate-rules.test.yml');
const dashboard = path.join(root, 'deploy/grafana/livegate.json');

let failed = false;
const fail = (msg) => { console.error(`check-monitoring: ${msg}`); failed = true; };

function promtool(...args) {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error) {
    console.error('check-monitoring: promtool not found; run scripts/setup.sh (Debian package prometheus)');
    process.exit(1);
  }
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.status === 0;
}

if (!promtool('check', 'rules', rules)) fail('promtool check rules failed');
if (!promtool('test', 'rules', ruleTests)) fail('promtool test rules failed');

const dash = JSON.parse(readFileSync(dashboard, 'utf8'));
const ids = new Set();
const exprs = [];
for (const p of dash.panels ?? []) {
  if (ids.has(p.id)) fail(`panel id ${p.id} twice`);
  ids.add(p.id);
  if (!p.title || !p.gridPos) fail(`panel ${p.id} lacks a title or gridPos`);
  if (p.type === 'row') continue;
  if (!p.targets?.length) fail(`panel "${p.title}" has no query`);
  for (const t of p.targets ?? []) {
    if (!t.expr) fail(`panel "${p.title}" has an empty query`);
    else exprs.push(t.expr);
  }
}
if (!exprs.length) fail('the dashboard has no queries');

// The panels' PromQL, checked by promtool as recording rules.
const dir = mkdtempSync(path.join(os.tmpdir(), 'lg-dash-'));
const asRules = path.join(dir, 'dashboard-rules.yml');
writeFileSync(asRules, `groups:\n  - name: dashboard\n    rules:\n${exprs.map((e, i) =>
  `      - record: livegate_dashboard_panel_${i}\n        expr: ${JSON.stringify(e)}\n`).join('')}`);
if (!promtool('check', 'rules', asRules)) fail('a dashboard query is not valid PromQL');
rmSync(dir, { recursive: true, force: true });

// Every metric name used is one the C sources write.
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? sources(p) : d.name.endsWith('.c') ? [readFileSync(p, 'utf8')] : [];
  });
}
const code = [...sources(path.join(root, 'gateway')), ...sources(path.join(root, 'validator'))].join('\n');
const used = new Set([...readFileSync(rules, 'utf8').matchAll(/livegate_[a-z_]+/g), ...exprs.flatMap((e) => [...e.matchAll(/livegate_[a-z_]+/g)])]
  .map((m) => m[0]).filter((n) => !n.startsWith('livegate_dashboard_')));
for (const name of used) {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  if (!code.includes(`"${name}`) && !code.includes(`"${base}`)) fail(`${name} is used but no program exports it`);
}
if (failed) process.exit(1);
console.log(`check-monitoring: rules, their tests, ${exprs.length} dashboard queries and ${used.size} metric names are fine`);
