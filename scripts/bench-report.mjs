// bench-report.mjs - writes the results of scripts/bench.sh into
// docs/BENCHMARKS.md, between the markers below, replacing the previous
// section: the machine, the date, each scenario's command, its figures and
// its chart. Usage: node scripts/bench-report.mjs OUT_DIR BENCHMARKS.md GATEWAYS
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dir, doc, gateways] = process.argv.slice(2);
const BEGIN = '<!-- bench.sh: begin -->';
const END = '<!-- bench.sh: end -->';
const f1 = (x) => (x == null ? '-' : Number(x).toFixed(1));
const int = (x) => Math.round(x).toLocaleString('en-US');

const lines = [BEGIN, '', '## livegate-bench scenarios (scripts/bench.sh)', ''];
lines.push(`Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${os.cpus().length} vCPU ` +
  `(${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}. ` +
  `System: one redis-server (AOF everysec), ${gateways} gateway process(es) on one port, ` +
  'validators as set by bench.sh, the bench itself - all on this machine.', '');
lines.push('| scenario | connections | confirmed/s | accept p50 / p99 / max (ms) | result p50 / p99 / max (ms) | errors | audit |');
lines.push('|---|---|---|---|---|---|---|');
const details = [];
for (const name of ['steady', 'burst', 'max']) {
  const file = path.join(dir, `${name}.json`);
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const lat = r.latency_ms;
  const pick = (a, b, k) => Math.max(a[k] ?? 0, b[k] ?? 0);
  const acc = (k) => f1(pick(lat.accept_normal, lat.accept_high, k));
  const res = (k) => f1(pick(lat.result_normal, lat.result_high, k));
  const errs = Object.entries(r.errors_by_code).filter(([, n]) => n).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
  lines.push(`| ${name} | ${int(r.connections.max_up)} | ${int(r.confirmed_per_s)} | ${acc('p50')} / ${acc('p99')} / ${acc('max')} | ` +
    `${res('p50')} / ${res('p99')} / ${res('max')} | ${errs} | ${r.audit_ok ? 'passed' : 'FAILED'} |`);
  const cmd = readFileSync(path.join(dir, `${name}.cmd`), 'utf8').trim();
  details.push(`### ${name}`, '', '```sh', `${cmd} --secret ...`, '```', '');
  details.push(`- orders: ${int(r.orders.submitted)} submitted, ${int(r.orders.accepted)} accepted ` +
    `(${int(r.orders.accepted_high)} high), ${int(r.orders.confirmed)} confirmed, ${int(r.orders.rejected)} rejected ` +
    `(${Object.entries(r.rejected_by_code).filter(([, n]) => n).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'})`);
  details.push(`- latencies are the worse of the two priorities; p50/p99 are from the intended send time`);
  details.push(`- bench CPU: ${f1(r.bench.cpu_s)} s over ${f1(r.bench.wall_s)} s; busiest worker second ` +
    `${Math.round(r.bench.busiest_worker_second * 100)} % of a core${r.bench.busiest_worker_second >= 0.9 ? ' (the bench may have been the bottleneck)' : ''}`);
  if (r.gateway_memory) {
    details.push(`- gateway memory: ${int(r.gateway_memory.rss_before_kb)} KiB before, ` +
      `${int(r.gateway_memory.rss_idle_kb)} KiB with ${int(r.gateway_memory.idle_connections)} idle connections: ` +
      `${f1(r.gateway_memory.kb_per_connection)} KiB per connection (all gateway processes)`);
  }
  details.push(`- audit: ${r.audit.map((a) => `${a.ok ? 'ok' : 'FAIL'} ${a.check}`).join('; ')}`, '');
  details.push(`![${name}](img/bench-${name}.png)`, '');
}
lines.push('', ...details, END);

let text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
const a = text.indexOf(BEGIN), b = text.indexOf(END);
text = a >= 0 && b > a ? text.slice(0, a) + lines.join('\n') + text.slice(b + END.length)
  : text.trimEnd() + '\n\n' + lines.join('\n') + '\n';
writeFileSync(doc, text);
