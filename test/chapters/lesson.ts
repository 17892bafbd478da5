/**
 * Reading a chapter's lesson (README.md) the way a learner follows it: its shell commands, the YAML
 * it asks them to apply, and the steps that pause and resume Argo CD's automated sync. The suites
 * hold these against the rendered chapter, so a lesson cannot promise what the config does not do.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { ROOT, type Loose, type Rendered } from "./render-cache.ts";

export function lesson(dir: string): string {
  return readFileSync(path.join(ROOT, "chapters", dir, "README.md"), "utf8");
}

/** The body of every fenced block of a language (`sh`, `yaml`), in order. */
export function codeBlocks(text: string, lang: string): string[] {
  const blocks: string[] = [];
  const fence = new RegExp("^( *)```" + lang + "\\n([\\s\\S]*?)^\\1```", "gm");
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    const indent = m[1]!.length;
    blocks.push(
      m[2]!
        .split("\n")
        .map((l) => l.slice(indent))
        .join("\n"),
    );
  }
  return blocks;
}

/** Shell commands of the lesson, one per line, with `\` continuations joined. */
export function shellCommands(text: string): string[] {
  return codeBlocks(text, "sh")
    .flatMap((b) => b.replace(/\\\n\s*/g, "").split("\n"))
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The YAML documents of every `<<EOF ... EOF` heredoc in the lesson's shell blocks. */
export function heredocObjects(text: string): Loose[] {
  const out: Loose[] = [];
  for (const block of codeBlocks(text, "sh")) {
    const re = /<<'?EOF'?\n([\s\S]*?)^EOF$/gm;
    for (let m = re.exec(block); m; m = re.exec(block))
      out.push(...parseAllDocuments(m[1]!).map((d) => d.toJSON()));
  }
  return out;
}

export interface SyncPause {
  /** The Applications whose automated sync the lesson turns off, in order. */
  paused: string[];
  /** What they must be: the root (applied by hand, owned by no one) first, then the child. */
  expected: string[];
  /** The manual change comes after the last pause. */
  changedAfterPause: boolean;
  /** A command after the change re-applies the committed root Application. */
  resumed: boolean;
}

const PAUSE =
  /kubectl (?:--context \S+ )?-n argocd patch application (\S+) --type merge -p '\{"spec":\{"syncPolicy":\{"automated":null\}\}\}'/;

/**
 * The lesson's pause and resume of automated sync around a manual change, next to what the
 * rendered cluster needs: the root Application must be paused before the child whose object is
 * changed by hand, or the root's self-heal restores the child's sync policy from git within
 * seconds; resuming is re-applying the committed root, which restores the child, whose self-heal
 * then reverts the change.
 */
export function syncPause(text: string, r: Rendered, app: string, change: RegExp): SyncPause {
  const cmds = shellCommands(text);
  const pauses = cmds.flatMap((c, i) => {
    const m = PAUSE.exec(c);
    return m ? [{ name: m[1]!, at: i }] : [];
  });
  const changeAt = cmds.findIndex((c) => change.test(c));
  const rootFile = `clusters/${r.result.cluster.name}/rendered/bootstrap/root.yaml`;
  return {
    paused: pauses.map((p) => p.name),
    expected: [r.yaml("bootstrap/root.yaml").metadata.name, r.application(app).metadata.name],
    changedAfterPause: changeAt >= 0 && pauses.length > 0 && changeAt > Math.max(...pauses.map((p) => p.at)),
    resumed: cmds.some(
      (c, i) => i > changeAt && new RegExp(`^kubectl (--context \\S+ )?apply -f ${rootFile}( |$)`).test(c),
    ),
  };
}
