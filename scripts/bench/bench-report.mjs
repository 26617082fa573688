// bench-report.mjs - writes the results of scripts/bench/bench.sh into
// docs/BENCHMARKS.md, between the markers below, replacing the previous
// section: the machine, the date, each scenario's command, the medians (and
// range) of its figures over the repeated runs, the CPU each process used,
// and the chart of the median run.
// Usage: node scripts/bench/bench-report.mjs OUT_DIR BENCHMARKS.md GATEWAYS VALIDATORS REPS SCENARIO...
// (REPS is informational: every OUT_DIR/<scenario>-<n>.json found is used)
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [dir, doc, gateways, validators, , ...scenarios] = process.argv.slice(2);
const BEGIN = '<!-- bench.sh: begin -->';
const END = '<!-- bench.sh: end -->';
const f1 = (x) => (x == null || Number.isNaN(x) ? '-' : Number(x).toFixed(1));
const int = (x) => (x == null || Number.isNaN(x) ? '-' : Math.round(x).toLocaleString('en-US'));
const median = (xs) => {
  const s = xs.filter((x) => x != null && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs, fmt) => (xs.length > 1 ? ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : '');
const medRange = (xs, fmt) => `${fmt(median(xs))}${range(xs, fmt)}`;

// the worse of the two priorities, for a latency figure
const worse = (lat, kind, k) => Math.max(lat[`${kind}_normal`][k] ?? 0, lat[`${kind}_high`][k] ?? 0);

// The busiest second of each kind of process (gateways and validators
// summed), % of one core, from bench.sh's once-a-second samples.
function peakSeconds(file) {
  if (!existsSync(file)) return null;
  const bySecond = new Map();
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [t, name, pct] = line.split(',');
    if (pct === undefined) continue;
    const kind = name.replace(/-\d+$/, 's');
    const m = bySecond.get(t) ?? {};
    m[kind] = (m[kind] ?? 0) + Math.max(0, Number(pct));
    bySecond.set(t, m);
  }
  const peak = {};
  for (const m of bySecond.values()) for (const [k, v] of Object.entries(m)) peak[k] = Math.max(peak[k] ?? 0, v);
  return peak;
}

const lines = [BEGIN, '', '## livegate-bench scenarios (scripts/bench/bench.sh)', ''];
lines.push(`Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${os.cpus().length} vCPU ` +
  `(${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}. ` +
  `System: one redis-server (AOF everysec), ${gateways} gateway processes on one port, ` +
  `${validators} validators, and the bench itself, all on this machine. ` +
  'Figures are medians over the runs (column "runs"), with the range of the runs in brackets. ' +
  'confirmed/s is over the whole run, from the first send to the last final result; each ' +
  'scenario\'s median run also gives it over the sending window (first to last send).', '');
lines.push('| scenario | runs | connections | confirmed/s (whole run) | accept p50 / p99 / max (ms) | pushed result p50 / p99 / max (ms) | results after a reconnect | audits passed |');
lines.push('|---|---|---|---|---|---|---|---|');
const details = [];
const confirmedMedian = {}; // scenario -> median confirmed/s, for the flood's share of max
for (const name of scenarios) {
  const runs = [];
  for (let i = 1; existsSync(path.join(dir, `${name}-${i}.json`)); i++) {
    const file = path.join(dir, `${name}-${i}.json`);
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const cpuFile = path.join(dir, `${name}-${i}.cpu`);
    r.cpu = existsSync(cpuFile) ? JSON.parse(readFileSync(cpuFile, 'utf8')) : null;
    r.peak = peakSeconds(path.join(dir, `${name}-${i}.cpu.csv`));
    r.rep = i;
    runs.push(r);
  }
  if (!runs.length) continue;
  const col = (f) => runs.map(f);
  const lat = (kind, k) => col((r) => worse(r.latency_ms, kind, k));
  // the run whose confirmed orders/s is the median one gives the chart
  const byRate = [...runs].sort((a, b) => a.confirmed_per_s - b.confirmed_per_s);
  const mid = byRate[Math.floor((byRate.length - 1) / 2)];
  writeFileSync(path.join(dir, `${name}.median-run`), `${mid.rep}\n`);
  const afterReconnect = col((r) => r.audit_counts.after_reconnect ?? 0);
  const finals = col((r) => r.orders.confirmed + r.orders.rejected);
  const passed = runs.filter((r) => r.audit_ok).length;
  confirmedMedian[name] = median(col((r) => r.confirmed_per_s));
  lines.push(`| ${name} | ${runs.length} | ${medRange(col((r) => r.connections.max_up), int)} | ` +
    `${medRange(col((r) => r.confirmed_per_s), int)} | ` +
    `${f1(median(lat('accept', 'p50')))} / ${f1(median(lat('accept', 'p99')))} / ${f1(median(lat('accept', 'max')))} | ` +
    `${f1(median(lat('result', 'p50')))} / ${f1(median(lat('result', 'p99')))} / ${f1(median(lat('result', 'max')))} | ` +
    `${int(median(afterReconnect))} of ${int(median(finals))} | ${passed} of ${runs.length} |`);

  const cmd = readFileSync(path.join(dir, `${name}-1.cmd`), 'utf8').trim();
  details.push(`### ${name}`, '', '```sh', `${cmd} --secret ...`, '```', '');
  details.push('| run | confirmed/s | accept p50 / p99 / max (ms) | pushed result p50 / p99 / max (ms) | after reconnect: n, p50 / p99 (ms, upper bound) | rejected | audit |');
  details.push('|---|---|---|---|---|---|---|');
  for (const r of runs) {
    const L = r.latency_ms;
    const rej = Object.entries(r.rejected_by_code).filter(([, n]) => n).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
    const ar = L.result_after_reconnect;
    details.push(`| ${r.rep} | ${int(r.confirmed_per_s)} | ${f1(worse(L, 'accept', 'p50'))} / ${f1(worse(L, 'accept', 'p99'))} / ${f1(worse(L, 'accept', 'max'))} | ` +
      `${f1(worse(L, 'result', 'p50'))} / ${f1(worse(L, 'result', 'p99'))} / ${f1(worse(L, 'result', 'max'))} | ` +
      `${int(ar?.count ?? 0)}, ${ar?.count ? `${f1(ar.p50)} / ${f1(ar.p99)}` : '-'} | ${rej} | ` +
      `${r.audit_ok ? 'passed' : `FAILED: ${r.audit.filter((a) => !a.ok).map((a) => `${a.check} (${a.detail})`).join('; ')}`} |`);
  }
  details.push('');
  const m = mid;
  details.push(`Median run (${m.rep}):`);
  details.push(`- orders: ${int(m.orders.submitted)} submitted, ${int(m.orders.accepted)} accepted ` +
    `(${int(m.orders.accepted_high)} high), ${int(m.orders.confirmed)} confirmed, ${int(m.orders.rejected)} rejected`);
  const errs = Object.entries(m.errors_by_code).filter(([, n]) => n).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
  const tp = m.throughput;
  if (tp)
    details.push(`- throughput: ${int(tp.confirmed_per_s_run)} confirmed/s over the whole run (first send to last final ` +
      `result, ${f1(tp.run_s)} s); ${tp.confirmed_per_s_sending == null ? 'the sending window had no length'
        : `${int(tp.confirmed_per_s_sending)}/s over the sending window (first to last send, ${f1(tp.sending_window_s)} s)`}`);
  details.push(`- connections: ${int(m.connections.max_up)} up at most, ${int(m.connections.failed)} failed, ` +
    `${int(m.connections.closed_by_server)} closed by the server, ${int(m.connections.reconnects)} reconnects; errors: ${errs}`);
  details.push(`- pushed-result latency covers ${int((m.latency_ms.result_normal.count ?? 0) + (m.latency_ms.result_high.count ?? 0))} ` +
    `of ${int(m.orders.confirmed + m.orders.rejected)} final results; ${int(m.audit_counts.after_reconnect ?? 0)} came after ` +
    `their connection closed for a resend (${int((m.audit_counts.recovered_by_query ?? 0) - (m.audit_counts.push_missing ?? 0))} by order.query)`);
  // BUSY and RATE_LIMITED: the bench waited retry_after_ms and resubmitted
  // the same client_order_id; latencies run from an order's first send.
  const rt = m.retries;
  if (rt && (rt.refusals || rt.resubmits_after_close)) {
    const ft = rt.first_send_to_accept_ms;
    details.push(`- refusals: BUSY ${int(rt.busy)}, RATE_LIMITED ${int(rt.rate_limited)}; ${int(rt.resubmits)} resubmits ` +
      `after retry_after_ms; ${int(rt.admitted_after_retry)} orders accepted after a retry (first send to acceptance ` +
      `p50 / p99 / max ${f1(ft.p50)} / ${f1(ft.p99)} / ${f1(ft.max)} ms); ${int(rt.refused_gave_up + rt.refused_waiting_at_end)} ` +
      `refused and never accepted (${int(rt.refused_waiting_at_end)} still waiting at the end); ` +
      `${int(rt.resubmits_after_close)} resent after their connection closed unanswered`);
  }
  if (name === 'flood' && confirmedMedian.max > 0)
    details.push(`- confirmed/s during the flood: ${int(100 * confirmedMedian.flood / confirmedMedian.max)} % of max's ` +
      `(${int(confirmedMedian.flood)} of ${int(confirmedMedian.max)})`);
  details.push(`- bench CPU: ${medRange(col((r) => r.bench.cpu_s), f1)} s over ${medRange(col((r) => r.bench.wall_s), f1)} s; ` +
    `busiest worker second ${medRange(col((r) => r.bench.busiest_worker_second * 100), int)} % of a core` +
    `${runs.some((r) => r.bench.busiest_worker_second >= 0.9) ? ' (the bench may have been the bottleneck)' : ''}`);
  if (runs.every((r) => r.cpu)) {
    const names = Object.keys(runs[0].cpu.processes).sort();
    const pct = (r, n) => (100 * r.cpu.processes[n]) / r.cpu.wall_s;
    details.push(`- server CPU over the whole run, % of one core (median): ` +
      names.map((n) => `${n} ${int(median(col((r) => pct(r, n))))}`).join(', '));
  }
  if (runs.every((r) => r.peak)) {
    const kinds = ['machine', 'bench', 'redis', 'gateways', 'validators'].filter((k) => k in runs[0].peak);
    details.push(`- busiest second, % of one core (median over runs; the machine has ${os.cpus().length * 100} %, ` +
      `and other users' load is in "machine"): ` + kinds.map((k) => `${k} ${int(median(col((r) => r.peak[k])))}`).join(', '));
  }
  if (runs.every((r) => r.gateway_memory)) {
    const g = m.gateway_memory;
    details.push(`- gateway memory: ${medRange(col((r) => r.gateway_memory.kb_per_connection), f1)} KiB per idle connection ` +
      `(median run: ${int(g.rss_before_kb)} KiB before, ${int(g.rss_idle_kb)} KiB with ${int(g.idle_connections)} idle connections, all gateway processes)`);
  }
  details.push('', `![${name}](img/bench-${name}.png)`, '');
}
lines.push('', ...details, END);

let text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
const a = text.indexOf(BEGIN), b = text.indexOf(END);
text = a >= 0 && b > a ? text.slice(0, a) + lines.join('\n') + text.slice(b + END.length)
  : text.trimEnd() + '\n\n' + lines.join('\n') + '\n';
writeFileSync(doc, text);
