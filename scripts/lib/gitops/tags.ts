/**
 * The tag scheme, pure: `mesh/<cluster>/<seq>-<chapter>`, e.g. `mesh/primary/0007-05-installing-istio`.
 * seq is a running number per cluster (zero-padded to 4 digits) so tags sort in the order the
 * cluster went through its states, promotions and rollbacks alike. The annotated tag's message
 * records the cluster, chapter, date, commit and a hash of the rendered output.
 */
import { createHash } from "node:crypto";

export const TAG_PREFIX = "mesh";
const SEQ_WIDTH = 4;
const TAG_PATTERN = /^mesh\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([0-9]{4,})-([0-9]{2}-[a-z0-9-]+)$/;

export interface TagName {
  name: string;
  cluster: string;
  seq: number;
  chapter: string;
}

export function formatTagName(cluster: string, seq: number, chapter: string): string {
  return `${TAG_PREFIX}/${cluster}/${String(seq).padStart(SEQ_WIDTH, "0")}-${chapter}`;
}

export function parseTagName(name: string): TagName | undefined {
  const m = TAG_PATTERN.exec(name.replace(/^refs\/tags\//, ""));
  if (!m) return undefined;
  return { name: m[0], cluster: m[1]!, seq: Number(m[3]), chapter: m[4]! };
}

/** The glob that lists one cluster's tags (`git tag -l`, `for-each-ref refs/tags/<glob>`). */
export function clusterTagGlob(cluster: string): string {
  return `${TAG_PREFIX}/${cluster}/*`;
}

/** The part of the tag after the cluster: `0007-05-installing-istio`, used in rollback branch names. */
export function tagSuffix(tag: TagName): string {
  return tag.name.slice(`${TAG_PREFIX}/${tag.cluster}/`.length);
}

export function nextSeq(existing: readonly TagName[]): number {
  return existing.reduce((max, t) => Math.max(max, t.seq), 0) + 1;
}

/**
 * sha256 over a cluster's rendered files: the `sha256sum` line (`<hex>  <path>\n`) of every file,
 * sorted by path in byte order. The same number comes out of
 * `cd clusters/<c>/rendered && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum | sha256sum`.
 */
export function renderedHash(files: ReadonlyMap<string, string>): string {
  const paths = [...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) as number);
  const outer = createHash("sha256");
  for (const p of paths) {
    const inner = createHash("sha256").update(files.get(p)!, "utf8").digest("hex");
    outer.update(`${inner}  ${p}\n`);
  }
  return outer.digest("hex");
}

export interface TagRecord {
  cluster: string;
  chapter: string;
  /** ISO 8601, UTC. */
  date: string;
  commit: string;
  renderedSha256: string;
  files: number;
  /** What made this state: a promotion, a rollback, or another change to the cluster. */
  subject: string;
}

const FIELDS = ["cluster", "chapter", "date", "commit", "rendered-sha256", "files"] as const;

export function formatTagMessage(r: TagRecord): string {
  return [
    `${r.cluster} at ${r.chapter}: ${r.subject}`,
    "",
    `cluster: ${r.cluster}`,
    `chapter: ${r.chapter}`,
    `date: ${r.date}`,
    `commit: ${r.commit}`,
    `rendered-sha256: ${r.renderedSha256}`,
    `files: ${r.files}`,
    "",
  ].join("\n");
}

/** Reads the fields back from a tag message; missing fields come back undefined. */
export function parseTagMessage(message: string): Partial<TagRecord> {
  const fields = new Map<string, string>();
  for (const line of message.split("\n")) {
    const m = /^([a-z0-9-]+): (.*)$/.exec(line.trim());
    if (m && (FIELDS as readonly string[]).includes(m[1]!)) fields.set(m[1]!, m[2]!);
  }
  const subject = message.split("\n")[0]?.replace(/^\S+ at \S+: /, "");
  const files = fields.get("files");
  return {
    ...(fields.has("cluster") ? { cluster: fields.get("cluster")! } : {}),
    ...(fields.has("chapter") ? { chapter: fields.get("chapter")! } : {}),
    ...(fields.has("date") ? { date: fields.get("date")! } : {}),
    ...(fields.has("commit") ? { commit: fields.get("commit")! } : {}),
    ...(fields.has("rendered-sha256") ? { renderedSha256: fields.get("rendered-sha256")! } : {}),
    ...(files !== undefined ? { files: Number(files) } : {}),
    ...(subject ? { subject } : {}),
  };
}
