/**
 * Is the committed output of a cluster a verified restore? True when the commit being validated
 * carries the rollback trailer `Mesh-Restored-From: mesh/<cluster>/<tag>` (HEAD, or HEAD's second
 * parent when HEAD is a merge, such as the test merge a pull request is checked out as), the tag
 * is an annotated mesh tag of this cluster and pinned chapter present in the repository, and the
 * rendered files hash to the `rendered-sha256` recorded in it. The trailer alone proves nothing
 * (anyone can write it); the hash ties the output to a state that was checked when it was tagged.
 */
import { realpath } from "node:fs/promises";
import { Git } from "./git.ts";
import { parseTagMessage, parseTagName, renderedHash } from "./tags.ts";

export const RESTORED_TRAILER = "Mesh-Restored-From";

export interface VerifiedRestore {
  /** The full tag name. */
  tag: string;
  /** The commit that carries the trailer. */
  commit: string;
}

export async function verifiedRestore(
  root: string,
  cluster: string,
  chapter: string,
  files: ReadonlyMap<string, string>,
): Promise<VerifiedRestore | undefined> {
  const git = new Git(root);
  const top = await git.try(["rev-parse", "--show-toplevel"]);
  if (!top || (await realpath(top)) !== (await realpath(root))) return undefined;
  const candidates = ["HEAD"];
  if (await git.revParse("HEAD^2^{commit}")) candidates.push("HEAD^2");
  const hash = renderedHash(files);
  for (const rev of candidates) {
    const message = await git.try(["log", "-1", "--format=%H%n%B", rev]);
    if (!message) continue;
    const [commit, ...body] = message.split("\n");
    for (const m of body.join("\n").matchAll(new RegExp(`^${RESTORED_TRAILER}: *(\\S+) *$`, "gm"))) {
      const name = parseTagName(m[1]!);
      if (!name || name.cluster !== cluster || name.chapter !== chapter) continue;
      const tag = await git.try([
        "for-each-ref",
        "--format=%(objecttype)%00%(contents)",
        `refs/tags/${name.name}`,
      ]);
      if (!tag?.startsWith("tag\0")) continue;
      const recorded = parseTagMessage(tag.slice(4));
      if (recorded.renderedSha256 === hash) return { tag: name.name, commit: commit! };
    }
  }
  return undefined;
}
