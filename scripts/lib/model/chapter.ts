import type {
  Chapter,
  ChapterExpect,
  ChapterPatch,
  ExpectRequest,
  ExpectThen,
  MeshAddition,
  ReleaseChange,
} from "./types.ts";
import { parseSingleDocument } from "./schema-check.ts";
import type { Finding } from "../findings.ts";
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
  expect?: RawExpect;
}

interface RawExpect {
  none?: string;
  clients?: Array<
    Omit<ChapterExpect["clients"][number], "position" | "labels"> & { labels?: Record<string, string> }
  >;
  requests?: Array<{
    name: string;
    lesson: string;
    roles?: ExpectRequest["roles"];
    from: string | { gateway: string };
    request: ExpectRequest["request"];
    then: ExpectThen;
  }>;
  changes?: Array<{ name: string; reason: string }>;
  drops?: Array<{ name: string; reason: string }>;
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
  const expect = parseExpect(raw.expect ?? {}, doc, dir, file, findings);
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
      expect,
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

type Doc = NonNullable<ReturnType<typeof parseSingleDocument>["doc"]>;

/**
 * The schema has checked the shape; here: what it cannot say (a name twice in one chapter, a
 * name both redefined and dropped, `none` beside requests), and positions for the findings.
 */
function parseExpect(
  raw: RawExpect,
  doc: Doc,
  dir: string,
  file: string,
  findings: Finding[],
): ChapterExpect {
  const problem = (p: (string | number)[], message: string, hint: string) =>
    findings.push({
      ...doc.positionOf(["expect", ...p], "value"),
      rule: "model/chapter",
      severity: "error",
      anchors: [],
      message,
      hint,
    });
  const requests: ExpectRequest[] = (raw.requests ?? []).map((r, i) => {
    const from =
      typeof r.from === "string"
        ? { kind: "workload" as const, ref: r.from }
        : { kind: "gateway" as const, ref: r.from.gateway };
    const [namespace = "", name = ""] = from.ref.split("/");
    const thenPositions: ExpectRequest["thenPositions"] = {};
    for (const k of Object.keys(r.then) as Array<keyof ExpectThen>)
      thenPositions[k] = doc.positionOf(["expect", "requests", i, "then", k], "key");
    return {
      name: r.name,
      lesson: r.lesson,
      ...(r.roles ? { roles: r.roles } : {}),
      from: { kind: from.kind, namespace, name },
      request: r.request,
      then: r.then,
      file,
      chapter: dir,
      position: doc.positionOf(["expect", "requests", i, "name"], "value"),
      thenPositions,
    };
  });
  const seen = new Map<string, number>();
  requests.forEach((r, i) => {
    const earlier = seen.get(r.name);
    if (earlier !== undefined)
      problem(
        ["requests", i, "name"],
        `expectation '${r.name}' is defined twice in this chapter (also at requests[${earlier}])`,
        "give each request its own name",
      );
    seen.set(r.name, i);
  });
  const changes = (raw.changes ?? []).map((c, i) => ({
    ...c,
    position: doc.positionOf(["expect", "changes", i, "name"], "value"),
  }));
  const drops = (raw.drops ?? []).map((c, i) => ({
    ...c,
    position: doc.positionOf(["expect", "drops", i, "name"], "value"),
  }));
  changes.forEach((c, i) => {
    if (!seen.has(c.name))
      problem(
        ["changes", i, "name"],
        `expect.changes names '${c.name}', which this chapter's requests do not redefine`,
        `add the new definition of '${c.name}' under expect.requests, or list it under expect.drops`,
      );
  });
  drops.forEach((d, i) => {
    if (seen.has(d.name))
      problem(
        ["drops", i, "name"],
        `expect.drops names '${d.name}', which this chapter also defines under requests`,
        "list it under expect.changes instead (a redefinition), or remove the request",
      );
  });
  if (raw.none !== undefined && requests.length)
    problem(
      ["none"],
      "expect.none says this chapter promises no mesh behaviour, but it lists requests",
      "remove `none` or the requests",
    );
  return {
    ...(raw.none !== undefined ? { none: raw.none } : {}),
    clients: (raw.clients ?? []).map((c, i) => ({
      ...c,
      labels: c.labels ?? {},
      position: doc.positionOf(["expect", "clients", i], "value"),
    })),
    requests,
    changes,
    drops,
  };
}
