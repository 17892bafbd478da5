/**
 * What a promotion changes in what the platform Applications apply: per Application, the objects
 * added, removed and changed between two platform renders (render/platform.ts). The rendered
 * folder in git shows only the Applications and their values; this shows what those values do.
 */
import type { PlatformRender } from "./platform.ts";
import { PLATFORM_DIR } from "./platform.ts";

export interface PlatformChange {
  release: string;
  added: string[];
  removed: string[];
  changed: string[];
  /** Set when either side could not be rendered offline (chart not in the cache or mirror). */
  notRendered?: string;
}

/** `platform/<release>/<ns>/<kind>-<name>.yaml` -> [release, `<ns>/<kind>-<name>`]. */
function split(file: string): [string, string] {
  const rest = file.slice(PLATFORM_DIR.length + 1);
  const slash = rest.indexOf("/");
  return [rest.slice(0, slash), rest.slice(slash + 1).replace(/\.yaml$/, "")];
}

/** Only the objects matter: the header comment names the chapter, which always differs. */
function body(text: string): string {
  return text.replace(/^(#[^\n]*\n)+/, "");
}

export function platformChanges(before: PlatformRender, after: PlatformRender): PlatformChange[] {
  const out = new Map<string, PlatformChange>();
  const entry = (release: string) => {
    let e = out.get(release);
    if (!e) {
      e = { release, added: [], removed: [], changed: [] };
      out.set(release, e);
    }
    return e;
  };
  for (const [file, text] of after.files) {
    const [release, object] = split(file);
    const old = before.files.get(file);
    if (old === undefined) entry(release).added.push(object);
    else if (body(old) !== body(text)) entry(release).changed.push(object);
  }
  for (const file of before.files.keys()) {
    if (after.files.has(file)) continue;
    const [release, object] = split(file);
    entry(release).removed.push(object);
  }
  for (const m of [...before.missing, ...after.missing]) entry(m.release.name).notRendered = m.reason;
  return [...out.values()]
    .filter((e) => e.notRendered || e.added.length || e.removed.length || e.changed.length)
    .sort((a, b) => (a.release < b.release ? -1 : 1));
}
