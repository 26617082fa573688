// The text of a Redis script as the binaries embed it, for the tests and
// benchmarks that load a script themselves: each line "-- needs: <name>"
// prepends queue/lua/lib/<name>.lua, as queue/embed_lua.cmake does (same
// order, same separator, so the SHA1 is the gateway's).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const luaDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../queue/lua');

export function luaSource(file) {
  const full = path.isAbsolute(file) ? file : path.join(luaDir, file);
  const text = readFileSync(full, 'utf8');
  let prefix = '';
  for (const m of `\n${text}`.matchAll(/\n-- needs: ([a-z_]+)/g)) {
    prefix += `${readFileSync(path.join(path.dirname(full), 'lib', `${m[1]}.lua`), 'utf8')}\n`;
  }
  return prefix + text;
}
