/** What the CLIs print: pure functions from results to lines. */
import { countChanges, type ResourceChange } from "./resources.ts";
import type { MeshTag, TagResult } from "./mesh-tags.ts";
import type { PromoteResult } from "./promote.ts";
import type { PublishResult } from "./publish.ts";
import type { RollbackResult } from "./rollback.ts";
import type { ValidationOutcome } from "./validate-step.ts";

export function changeLines(changes: readonly ResourceChange[]): string[] {
  const n = countChanges(changes);
  const lines = [`rendered: ${n.added} added, ${n.changed} changed, ${n.removed} removed`];
  const mark = { added: "+", changed: "~", removed: "-" } as const;
  for (const c of changes) lines.push(`  ${mark[c.change]} ${c.resource}  (${c.file})`);
  return lines;
}

export function validationLines(v: ValidationOutcome): string[] {
  return [v.summary, ...v.notes.map((n) => `  note: ${n}`)];
}

export function publishLines(p: PublishResult | undefined): string[] {
  if (!p) return [];
  const lines: string[] = [];
  if (p.pullRequest) lines.push(`opened pull request #${p.pullRequest.number}: ${p.pullRequest.url}`);
  if (p.next) lines.push(p.next);
  return lines;
}

export function promoteReport(r: PromoteResult): string[] {
  const head = `${r.dryRun ? "[dry run] would promote" : "promoted"} ${r.plan.cluster.name}: ${r.plan.from.dir} -> ${r.plan.to.dir}`;
  const lines = [head, ...changeLines(r.changes), ...validationLines(r.validation)];
  if (r.dryRun) {
    lines.push(`would commit on ${r.branch} and open a pull request: "${r.title}"`);
  } else {
    lines.push(`committed ${r.commit!.slice(0, 12)} on ${r.branch}`, ...publishLines(r.publish));
  }
  return lines;
}

export function rollbackReport(r: RollbackResult): string[] {
  const head = `${r.dryRun ? "[dry run] would roll back" : "rolled back"} ${r.tag.cluster} to ${r.tag.name}: chapter ${r.fromChapter} -> ${r.toChapter.dir}`;
  const lines = [head, ...changeLines(r.changes), ...validationLines(r.validation)];
  if (r.drift.length) {
    lines.push(
      `note: ${r.drift.length} restored file(s) differ from what today's sources render for ${r.toChapter.dir}:`,
    );
    lines.push(...r.drift.slice(0, 20).map((f) => `  ${f}`));
  }
  const where = r.branch ?? "the current branch";
  if (r.dryRun)
    lines.push(`would commit on ${where}${r.branch ? " and open a pull request" : " and push it"}`);
  else {
    lines.push(`committed ${r.commit!.slice(0, 12)} on ${where}`, ...publishLines(r.publish));
    if (!r.branch && r.publish?.pushed) lines.push("pushed; Argo CD picks it up on its next sync");
  }
  return lines;
}

export function tagReport(r: TagResult): string[] {
  const t = r.tag;
  if (!r.created && r.pushed)
    return [`${t.commit.slice(0, 12)} was tagged ${t.name} in this clone only; pushed it to origin`];
  if (!r.created)
    return [`${t.commit.slice(0, 12)} is already tagged ${t.name}; nothing to do (tags are never moved)`];
  return [
    `tagged ${t.commit.slice(0, 12)} as ${t.name}${r.pushed ? " and pushed it" : ""}`,
    `  chapter ${t.chapter}, rendered-sha256 ${t.renderedSha256}`,
  ];
}

export function historyTable(cluster: string, tags: readonly MeshTag[]): string[] {
  if (tags.length === 0)
    return [`no tags for cluster '${cluster}' yet (\`pnpm tag ${cluster}\` after a promotion)`];
  const rows = tags.map((t) => [t.name, t.chapter, t.date, t.commit.slice(0, 12), t.subject ?? ""]);
  const header = ["TAG", "CHAPTER", "DATE", "COMMIT", "SUBJECT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}
