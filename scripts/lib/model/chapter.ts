import type { Chapter, ChapterPatch, MeshAddition, ReleaseChange } from "./types.ts";
import { parseSingleDocument } from "./schema-check.ts";
import type { Loaded } from "./cluster.ts";
import chapterSchema from "../../schemas/chapter.schema.json" with { type: "json" };

export const CHAPTER_DIR_PATTERN = /^([0-9]{2})-[a-z0-9-]+$/;

interface RawChapter {
  id: number;
  title: string;
  summary: string;
  releases?: Array<Omit<ReleaseChange, "position">>;
  mesh?: { add?: Array<string | { path: string; roles?: MeshAddition["roles"] }>; remove?: string[] };
  patches?: Array<Omit<ChapterPatch, "position">>;
  expect?: Record<string, unknown>;
}

/** Parses and checks one chapter.yaml found in chapters/<dir>/. */
export function parseChapter(text: string, file: string, dir: string): Loaded<Chapter> {
  const { doc, findings } = parseSingleDocument(text, file, chapterSchema, "model/chapter", "chapter.yaml");
  if (!doc) return { findings };
  const raw = doc.value as RawChapter;
  const prefix = CHAPTER_DIR_PATTERN.exec(dir)?.[1];
  if (prefix === undefined || Number(prefix) !== raw.id) {
    findings.push({
      ...doc.positionOf(["id"], "value"),
      rule: "model/chapter",
      severity: "error",
      anchors: [],
      message: `chapter id ${raw.id} does not match its folder chapters/${dir}/`,
      hint:
        prefix === undefined
          ? "name the folder NN-slug, e.g. 05-installing-istio"
          : `set id: ${Number(prefix)}`,
    });
  }
  // A release may appear more than once when the entries are for different roles, so one chapter
  // can give the primary and the remote cluster different values.
  const seen = new Map<string, Array<{ index: number; roles: readonly string[] }>>();
  const ALL_ROLES = ["primary", "remote"];
  (raw.releases ?? []).forEach((r, i) => {
    const roles = r.roles ?? ALL_ROLES;
    const earlier = (seen.get(r.name) ?? []).find((e) => e.roles.some((role) => roles.includes(role)));
    if (earlier) {
      findings.push({
        ...doc.positionOf(["releases", i, "name"], "value"),
        rule: "model/chapter",
        severity: "error",
        anchors: [],
        message: `release '${r.name}' is listed twice for the same cluster role in this chapter (also at releases[${earlier.index}])`,
        hint: "merge the two entries, or give them disjoint roles: (e.g. roles: [primary] and roles: [remote])",
      });
    }
    seen.set(r.name, [...(seen.get(r.name) ?? []), { index: i, roles }]);
  });
  if (findings.length) return { findings };
  return {
    value: {
      id: raw.id,
      dir,
      title: raw.title,
      summary: raw.summary.trim(),
      releases: (raw.releases ?? []).map((r, i) => ({
        ...r,
        position: doc.positionOf(["releases", i], "value"),
      })),
      mesh: {
        add: (raw.mesh?.add ?? []).map((a, i) => ({
          ...(typeof a === "string" ? { path: a } : a),
          position: doc.positionOf(["mesh", "add", i], "value"),
        })),
        remove: (raw.mesh?.remove ?? []).map((path, i) => ({
          path,
          position: doc.positionOf(["mesh", "remove", i], "value"),
        })),
      },
      patches: (raw.patches ?? []).map((p, i) => ({
        ...p,
        position: doc.positionOf(["patches", i], "value"),
      })),
      expect: raw.expect ?? {},
      file,
    },
    findings,
  };
}

/** Resolves a user's chapter reference (`5`, `05`, or `05-installing-istio`) to a chapter folder. */
export function resolveChapterRef(ref: string, chapters: readonly Chapter[]): Chapter | undefined {
  if (/^[0-9]{1,2}$/.test(ref)) return chapters.find((c) => c.id === Number(ref));
  return chapters.find((c) => c.dir === ref);
}
