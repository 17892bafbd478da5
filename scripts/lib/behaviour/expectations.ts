/**
 * Which expectations hold at a chapter. Chapters are cumulative, and so are their promises: at
 * chapter N every request of chapters 00..N is checked, except those a later chapter took back.
 * A chapter takes one back by name, with a reason: `changes` (and a new definition under
 * `requests`, same name) or `drops`. Defining an earlier name again without `changes` is an error,
 * so no promise disappears by accident.
 */
import type { Finding } from "../findings.ts";
import {
  appliesTo,
  type Chapter,
  type ClusterRole,
  type ExpectClient,
  type ExpectRequest,
} from "../model/types.ts";

export interface Effective {
  clients: ExpectClient[];
  requests: ExpectRequest[];
}

/** The clients and requests in force at chapter `upTo` (a folder name) for a cluster role. */
export function effectiveExpectations(
  chapters: readonly Chapter[],
  upTo: string,
  role: ClusterRole,
): Effective {
  const clients = new Map<string, ExpectClient>();
  const requests = new Map<string, ExpectRequest>();
  for (const ch of [...chapters].sort((a, b) => a.id - b.id)) {
    for (const d of ch.expect.drops) requests.delete(d.name);
    for (const c of ch.expect.changes) requests.delete(c.name);
    for (const c of ch.expect.clients) clients.set(`${c.namespace}/${c.name}`, c);
    for (const r of ch.expect.requests) requests.set(r.name, r);
    if (ch.dir === upTo) break;
  }
  return {
    clients: [...clients.values()].filter((c) => appliesTo(c.roles, role)),
    requests: [...requests.values()].filter((r) => appliesTo(r.roles, role)),
  };
}

/** Across chapters: redefinitions without `changes`, `changes`/`drops` of names nobody defined. */
export function checkExpectationHistory(chapters: readonly Chapter[]): Finding[] {
  const findings: Finding[] = [];
  const live = new Map<string, string>();
  const problem = (file: string, pos: { line: number; column: number }, message: string, hint: string) =>
    findings.push({ file, ...pos, rule: "model/chapter", severity: "error", anchors: [], message, hint });
  for (const ch of [...chapters].sort((a, b) => a.id - b.id)) {
    for (const d of ch.expect.drops) {
      if (!live.has(d.name))
        problem(
          ch.file,
          d.position,
          `expect.drops names '${d.name}', which no earlier chapter's expectations define (or one dropped already)`,
          "use the name of an earlier request, or remove the entry",
        );
      live.delete(d.name);
    }
    const changed = new Set(ch.expect.changes.map((c) => c.name));
    for (const c of ch.expect.changes)
      if (!live.has(c.name))
        problem(
          ch.file,
          c.position,
          `expect.changes names '${c.name}', which no earlier chapter's expectations define`,
          "a new request needs no `changes` entry; remove it",
        );
    for (const r of ch.expect.requests) {
      const earlier = live.get(r.name);
      if (earlier && !changed.has(r.name))
        problem(
          ch.file,
          r.position,
          `expectation '${r.name}' is already defined by ${earlier}; a later chapter may only redefine it under expect.changes, with a reason`,
          `add '- { name: ${r.name}, reason: ... }' under expect.changes, or give the new request another name`,
        );
      live.set(r.name, ch.dir);
    }
  }
  return findings;
}
