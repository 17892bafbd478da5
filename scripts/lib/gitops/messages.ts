/**
 * Commit messages, pull request titles and bodies for promotions and rollbacks. Pure text from data.
 */
import type { Chapter } from "../model/types.ts";
import { formatFindingLine } from "../findings.ts";
import { renderedRoot } from "../render/layout.ts";
import { countChanges, type ResourceChange } from "./resources.ts";
import type { ValidationOutcome } from "./validate-step.ts";
import type { PlatformChange } from "../render/platform-diff.ts";

/** GitHub caps a PR body at 65,536 characters; long resource lists are cut well before that. */
const MAX_RESOURCE_ROWS = 150;
const MAX_FINDING_ROWS = 30;

export interface PromotionText {
  cluster: string;
  from: Chapter;
  to: Chapter;
  /** The chapters the cluster moves through: from+1 .. to. */
  passed: Chapter[];
  changes: ResourceChange[];
  validation: ValidationOutcome;
  /** What changes in what the platform Applications apply; absent when it was not rendered. */
  platform?: PlatformChange[];
}

export function promotionTitle(p: Pick<PromotionText, "cluster" | "to">): string {
  return `Promote ${p.cluster} to chapter ${p.to.dir} (${p.to.title})`;
}

export function promotionCommitMessage(p: PromotionText): string {
  const lines = [promotionTitle(p), "", `Moves cluster ${p.cluster} from ${p.from.dir} to ${p.to.dir}.`, ""];
  for (const ch of p.passed) lines.push(...wrap(`${ch.dir}: ${ch.summary}`), "");
  const n = countChanges(p.changes);
  lines.push(
    `Rendered: ${n.added} added, ${n.changed} changed, ${n.removed} removed (${renderedRoot(p.cluster)}/).`,
  );
  lines.push(
    `Validation: ${p.validation.summary}.`,
    "",
    `Mesh-Cluster: ${p.cluster}`,
    `Mesh-Chapter: ${p.to.dir}`,
  );
  return lines.join("\n") + "\n";
}

export function promotionBody(p: PromotionText): string {
  const out: string[] = [];
  out.push(`Moves cluster **${p.cluster}** from chapter \`${p.from.dir}\` to \`${p.to.dir}\`.`, "");
  out.push(p.passed.length === 1 ? "## The chapter" : `## The chapters (${p.passed.length})`, "");
  for (const ch of p.passed) out.push(`### ${ch.dir}: ${ch.title}`, "", ch.summary, "");
  out.push(...changesSection(p.cluster, p.changes));
  if (p.platform) out.push(...platformSection(p.platform));
  out.push(...validationSection(p.validation));
  out.push(
    "---",
    `Opened by \`pnpm promote ${p.cluster}\`. After the merge Argo CD syncs \`${renderedRoot(p.cluster)}/\` and the tag workflow tags the merge commit \`mesh/${p.cluster}/<seq>-${p.to.dir}\`; \`pnpm rollback ${p.cluster} --steps 1\` undoes it.`,
  );
  return out.join("\n") + "\n";
}

export interface RollbackText {
  cluster: string;
  tag: string;
  tagCommit: string;
  fromChapter: string;
  toChapter: Chapter;
  changes: ResourceChange[];
  validation: ValidationOutcome;
  /** Files whose restored content differs from what today's sources render for the restored chapter. */
  drift: string[];
}

export function rollbackTitle(r: Pick<RollbackText, "cluster" | "tag" | "toChapter">): string {
  return `Roll back ${r.cluster} to ${r.tag} (chapter ${r.toChapter.dir})`;
}

export function rollbackCommitMessage(r: RollbackText): string {
  const n = countChanges(r.changes);
  const lines = [
    rollbackTitle(r),
    "",
    `Restores clusters/${r.cluster}/cluster.yaml's chapter (${r.fromChapter} -> ${r.toChapter.dir}) and`,
    `${renderedRoot(r.cluster)}/ as of ${r.tag} (${r.tagCommit.slice(0, 12)}), as a new commit:`,
    "a roll-forward that Argo CD syncs like any other change, auto-sync included.",
    "",
    `Rendered: ${n.added} added, ${n.changed} changed, ${n.removed} removed.`,
    `Validation: ${r.validation.summary}.`,
  ];
  if (r.drift.length)
    lines.push(`Note: ${r.drift.length} restored file(s) differ from what the current sources render.`);
  lines.push(
    "",
    `Mesh-Cluster: ${r.cluster}`,
    `Mesh-Chapter: ${r.toChapter.dir}`,
    `Mesh-Restored-From: ${r.tag}`,
  );
  return lines.join("\n") + "\n";
}

export function rollbackBody(r: RollbackText): string {
  const out: string[] = [];
  out.push(
    `Rolls cluster **${r.cluster}** back to tag \`${r.tag}\` (commit \`${r.tagCommit.slice(0, 12)}\`): chapter \`${r.fromChapter}\` -> \`${r.toChapter.dir}\`.`,
    "",
    "This is a roll-forward: the mesh output of the tag is restored as a new commit, so Argo CD syncs it with auto-sync on (`argocd app rollback` refuses while auto-sync is enabled, and app-of-apps children would be synced back to git anyway).",
    "",
    `### ${r.toChapter.dir}: ${r.toChapter.title}`,
    "",
    r.toChapter.summary,
    "",
  );
  out.push(...changesSection(r.cluster, r.changes), ...validationSection(r.validation));
  if (r.drift.length) {
    out.push(
      "## Sources have moved on",
      "",
      `${r.drift.length} restored file(s) differ from what today's chapters render for \`${r.toChapter.dir}\`, so \`pnpm render --check\` flags this cluster until the sources are fixed (revert the chapter or mesh change that caused the incident, then \`pnpm render\`):`,
      "",
      ...r.drift.slice(0, MAX_RESOURCE_ROWS).map((f) => `- \`${f}\``),
      "",
    );
  }
  out.push("---", `Opened by \`pnpm rollback ${r.cluster} --to ${r.tag}\`.`);
  return out.join("\n") + "\n";
}

function changesSection(cluster: string, changes: readonly ResourceChange[]): string[] {
  const n = countChanges(changes);
  const out = [
    "## Changed resources",
    "",
    `\`${renderedRoot(cluster)}/\`: ${n.added} added, ${n.changed} changed, ${n.removed} removed.`,
    "",
  ];
  if (changes.length === 0) return [...out, "No rendered file changes.", ""];
  out.push("| change | resource | file |", "| --- | --- | --- |");
  for (const c of changes.slice(0, MAX_RESOURCE_ROWS))
    out.push(`| ${c.change} | ${escapeCell(c.resource)} | \`${c.file}\` |`);
  if (changes.length > MAX_RESOURCE_ROWS) out.push(`| ... | ${changes.length - MAX_RESOURCE_ROWS} more | |`);
  out.push("");
  return out;
}

const MAX_OBJECTS_PER_CELL = 8;

function objectList(objects: readonly string[]): string {
  if (objects.length === 0) return "";
  const shown = objects.slice(0, MAX_OBJECTS_PER_CELL).map((o) => `\`${o}\``);
  if (objects.length > shown.length) shown.push(`and ${objects.length - shown.length} more`);
  return escapeCell(shown.join(", "));
}

function platformSection(changes: readonly PlatformChange[]): string[] {
  const out = [
    "## What the platform Applications apply",
    "",
    "The upstream charts rendered offline from charts.lock.yaml with the old and the new values (objects as `namespace/kind-name`).",
    "",
  ];
  if (changes.length === 0) return [...out, "No change in any platform chart's output.", ""];
  out.push("| release | added | removed | changed |", "| --- | --- | --- | --- |");
  for (const c of changes) {
    if (c.notRendered) {
      out.push(`| ${c.release} | not rendered: ${escapeCell(c.notRendered)} | | |`);
      continue;
    }
    out.push(
      `| ${c.release} | ${c.added.length} ${objectList(c.added)} | ${c.removed.length} ${objectList(c.removed)} | ${c.changed.length} ${objectList(c.changed)} |`,
    );
  }
  out.push("");
  return out;
}

function validationSection(v: ValidationOutcome): string[] {
  const icon = v.errors ? ":x:" : v.warnings ? ":warning:" : ":white_check_mark:";
  const out = ["## Validation", "", `${icon} ${v.summary}`, ""];
  for (const note of v.notes) out.push(`> ${note}`, "");
  const shown = v.findings.filter((f) => f.severity !== "info").slice(0, MAX_FINDING_ROWS);
  if (shown.length) {
    out.push("```", ...shown.map(formatFindingLine), "```", "");
    if (v.findings.length > shown.length)
      out.push(`(${v.findings.length - shown.length} more; run \`pnpm validate\`)`, "");
  }
  return out;
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, "\\|");
}

function wrap(text: string, width = 72): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
