/**
 * Changing the chapter pin in cluster.yaml without touching anything else: the value is replaced
 * in place, at the position the YAML parser reports for it, in the quoting style it had. Comments,
 * key order, blank lines and the rest of the file stay byte-for-byte as they were.
 */
import { isMap, isScalar, parseDocument, Scalar } from "yaml";

const CHAPTER_DIR = /^[0-9]{2}-[a-z0-9-]+$/;

export class ClusterYamlError extends Error {
  override name = "ClusterYamlError";
}

/** The `chapter:` value of a cluster.yaml text. */
export function readClusterChapter(text: string): string {
  return chapterScalar(text).value as string;
}

/** Returns `text` with the `chapter:` value set to `chapter` and every other byte unchanged. */
export function setClusterChapter(text: string, chapter: string): string {
  if (!CHAPTER_DIR.test(chapter))
    throw new ClusterYamlError(`'${chapter}' is not a chapter folder name (NN-slug)`);
  const node = chapterScalar(text);
  const [start, end] = node.range!;
  const literal =
    node.type === Scalar.QUOTE_DOUBLE
      ? `"${chapter}"`
      : node.type === Scalar.QUOTE_SINGLE
        ? `'${chapter}'`
        : chapter;
  const next = text.slice(0, start) + literal + text.slice(end);
  // The edit must round-trip: same document, only the chapter differs.
  if (readClusterChapter(next) !== chapter) {
    throw new ClusterYamlError("editing the chapter value did not produce the expected document");
  }
  return next;
}

function chapterScalar(text: string): Scalar {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) throw new ClusterYamlError(`cluster.yaml does not parse: ${doc.errors[0]!.message}`);
  if (!isMap(doc.contents)) throw new ClusterYamlError("cluster.yaml is not a mapping");
  const node = doc.contents.get("chapter", true);
  if (!isScalar(node) || typeof node.value !== "string" || !node.range) {
    throw new ClusterYamlError("cluster.yaml has no string `chapter:` value");
  }
  if (node.type === Scalar.BLOCK_FOLDED || node.type === Scalar.BLOCK_LITERAL) {
    throw new ClusterYamlError("cluster.yaml writes `chapter:` as a block scalar; write it on one line");
  }
  return node;
}
