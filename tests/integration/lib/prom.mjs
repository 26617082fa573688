// prom.mjs - a strict reader of the Prometheus text exposition format
// (version 0.0.4) for the tests: every line is a HELP, a TYPE or a sample
// `name{label="value",...} value`; each family has one HELP and one TYPE,
// the HELP first, both before its samples, and its samples together;
// counters end in _total; a histogram's buckets are cumulative, end in
// +Inf and equal its _count; no series appears twice. Free comment lines
// are refused too: livegate's documents have none.
import assert from 'node:assert/strict';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL})(?:,${LABEL})*\\})? (-?[0-9.eE+-]+|\\+Inf|-Inf|NaN)$`);

function familyOf(name, types) {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === 'histogram' || types.get(base) === 'summary') return base;
    }
  }
  return name;
}

export function parseProm(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const helps = new Set();
  const types = new Map();
  const samples = [];
  const series = new Set();
  const done = new Set(); // families whose samples have ended
  let current = null;
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = line.match(new RegExp(`^# HELP (${NAME}) (\\S.*)$`)))) {
      assert.ok(!helps.has(m[1]), `HELP given twice for ${m[1]}`);
      assert.ok(!types.has(m[1]), `HELP after TYPE for ${m[1]}`);
      helps.add(m[1]);
      continue;
    }
    if ((m = line.match(new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)))) {
      assert.ok(helps.has(m[1]), `TYPE without HELP for ${m[1]}`);
      assert.ok(!types.has(m[1]), `TYPE given twice for ${m[1]}`);
      types.set(m[1], m[2]);
      continue;
    }
    assert.ok(!line.startsWith('#'), `not a HELP or TYPE line: ${JSON.stringify(line)}`);
    m = line.match(SAMPLE);
    assert.ok(m, `bad sample line: ${JSON.stringify(line)}`);
    const family = familyOf(m[1], types);
    const type = types.get(family);
    assert.ok(type, `sample ${m[1]} before its TYPE line`);
    if (type === 'counter') assert.match(family, /_total$/, `counter ${family} ends in _total`);
    if (family !== current) {
      assert.ok(!done.has(family), `the samples of ${family} are not together`);
      if (current) done.add(current);
      current = family;
    }
    const key = m[1] + (m[2] ?? '');
    assert.ok(!series.has(key), `series given twice: ${key}`);
    series.add(key);
    const labels = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    const value = Number(m[3].replace('+Inf', 'Infinity'));
    assert.ok(!Number.isNaN(value), line);
    samples.push({ name: m[1], family, labels, value });
  }
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const buckets = samples.filter((s) => s.name === `${family}_bucket`);
    assert.ok(buckets.length >= 2, `${family} has buckets`);
    for (let i = 1; i < buckets.length; i++)
      assert.ok(buckets[i].value >= buckets[i - 1].value, `${family} buckets are cumulative`);
    assert.equal(buckets.at(-1).labels.le, '+Inf');
    const count = samples.find((s) => s.name === `${family}_count`);
    assert.ok(count && samples.find((s) => s.name === `${family}_sum`), `${family} has _sum and _count`);
    assert.equal(buckets.at(-1).value, count.value);
  }
  return { samples, types };
}

// The value of the one sample of name with (at least) these labels; absent: undefined.
export function sample(doc, name, labels = {}) {
  const s = doc.samples.find((x) => x.name === name &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}
