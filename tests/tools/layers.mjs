// layers.mjs - checks that gateway/ is a stack of layers (DESIGN.md,
// principle 10: layers call down). Each folder under gateway/ is a layer,
// bottom to top: rules < core < conn < features < dispatch. A module is X.c
// plus X.h; the script reads every #include "..." of gateway files and
// fails, naming the files, when
//   (a) a file includes a header of a higher layer, or
//   (b) the modules' include graph has a cycle (X.c including Y.h makes
//       module X depend on module Y).
// It also fails when it finds no gateway file at all, so a moved tree
// cannot make it pass by checking nothing.
//
//   node layers.mjs [GATEWAY_DIR]   check a tree (default: ../../gateway)
//   node layers.mjs --self-test     check the checker on synthetic trees
//
// Node only, no dependencies, so it runs wherever the tests run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LAYERS = ['rules', 'core', 'conn', 'features', 'dispatch'];

function listSources(root) {
  const files = [];
  for (const layer of LAYERS) {
    const dir = path.join(root, layer);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      if (name.endsWith('.c') || name.endsWith('.h')) files.push(`${layer}/${name}`);
    }
  }
  return files;
}

// Folders under the root that are not layers hold files nobody checks.
function unknownFolders(root) {
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !LAYERS.includes(e.name))
    .map((e) => e.name);
}

function includesOf(text) {
  const out = [];
  const re = /^\s*#\s*include\s*"([^"]+)"/gm;
  let m;
  while ((m = re.exec(text))) out.push(m[1]);
  return out;
}

const layerOf = (file) => LAYERS.indexOf(file.split('/')[0]);
const moduleOf = (file) => file.replace(/\.[ch]$/, '');

// Returns a list of problems (strings); empty when the tree is layered.
export function check(root) {
  const problems = [];
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory())
    return [`${root}: no such directory`];
  for (const dir of unknownFolders(root))
    problems.push(`${dir}/: not a layer (known: ${LAYERS.join(', ')})`);
  const files = listSources(root);
  if (files.length === 0) return [...problems, `${root}: no gateway .c/.h files found`];
  const known = new Set(files);
  const edges = new Map(); // module -> Map(module -> "file includes header")
  for (const file of files) {
    const from = moduleOf(file);
    if (!edges.has(from)) edges.set(from, new Map());
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const inc of includesOf(text)) {
      if (!known.has(inc)) continue; // queue/, common/, include/: below the gateway
      if (layerOf(inc) > layerOf(file))
        problems.push(`${file} includes ${inc}: ${inc.split('/')[0]} is above ${file.split('/')[0]}`);
      const to = moduleOf(inc);
      if (to !== from && !edges.get(from).has(to)) edges.get(from).set(to, `${file} -> ${inc}`);
    }
  }
  for (const { path: cycle, knot } of findCycles(edges)) {
    const steps = cycle.map((m, i) => edges.get(m).get(cycle[(i + 1) % cycle.length]));
    let line = `include cycle: ${steps.join(', ')}`;
    if (knot.length > cycle.length) line += ` (modules caught in it: ${knot.join(' ')})`;
    problems.push(line);
  }
  return problems;
}

// One cycle per strongly connected component of more than one module
// (Tarjan), shown as a path through it; the component's other modules are
// named too, since breaking that one cycle may leave another.
function findCycles(edges) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], cycles = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of (edges.get(v) || new Map()).keys()) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) !== idx.get(v)) return;
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) cycles.push({ path: cyclePath(edges, new Set(scc), v), knot: scc.sort() });
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) visit(v);
  return cycles;
}

// A path from start back to start inside the component (breadth first).
function cyclePath(edges, scc, start) {
  const prev = new Map();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of edges.get(v).keys()) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const route = [v];
        for (let u = v; u !== start; u = prev.get(u)) route.unshift(prev.get(u));
        return route;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

function writeTree(root, files) {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
}

// The checker must be able to fail: a tree with an upward include and a
// cycle must report both, a clean tree nothing, an empty tree an error.
function selfTest() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
  const failures = [];
  const expect = (what, ok) => {
    if (!ok) failures.push(what);
  };
  try {
    const bad = path.join(tmp, 'bad');
    writeTree(bad, {
      'rules/r.h': '#include "features/f.h"\n', // upward
      'core/a.h': '#include "rules/r.h"\n',
      'core/a.c': '#include "core/a.h"\n#include "core/b.h"\n',
      'core/b.h': '',
      'core/b.c': '#include "core/b.h"\n#include "core/a.h"\n', // a <-> b
      'features/f.h': '',
    });
    const p = check(bad);
    expect('reports the upward include', p.some((s) => s.startsWith('rules/r.h includes features/f.h')));
    expect('reports the a/b cycle', p.some((s) => s.includes('cycle') && s.includes('core/a.c -> core/b.h') && s.includes('core/b.c -> core/a.h')));
    expect('reports nothing else', p.length === 2);

    const good = path.join(tmp, 'good');
    writeTree(good, {
      'rules/r.h': '#include <stdio.h>\n#include "keys.h"\n',
      'core/a.h': '#include "rules/r.h"\n',
      'core/a.c': '#include "core/a.h"\n',
      'dispatch/d.c': '#include "core/a.h"\n#include "rules/r.h"\n',
    });
    const q = check(good);
    expect(`a layered tree passes (got: ${q.join('; ')})`, q.length === 0);

    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expect('an empty tree fails', check(empty).length > 0);
    expect('a missing tree fails', check(path.join(tmp, 'missing')).length > 0);

    const stray = path.join(tmp, 'stray');
    writeTree(stray, { 'core/a.h': '', 'misc/x.c': '' });
    expect('a folder that is not a layer fails', check(stray).some((s) => s.startsWith('misc/')));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const f of failures) console.error(`self-test failed: ${f}`);
  if (failures.length === 0) console.log('layers self-test: ok');
  return failures.length === 0 ? 0 : 1;
}

function main(argv) {
  if (argv[0] === '--self-test') return selfTest();
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(argv[0] || path.join(here, '..', '..', 'gateway'));
  const problems = check(root);
  for (const p of problems) console.error(`layers: ${p}`);
  if (problems.length) return 1;
  console.log(`layers: ${listSources(root).length} files in ${LAYERS.join(' < ')}: ok`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
