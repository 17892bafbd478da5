import { describe, expect, it } from "vitest";
import { parseChapter } from "../../scripts/lib/model/chapter.ts";
import { checkExpectationHistory, effectiveExpectations } from "../../scripts/lib/behaviour/expectations.ts";
import { loadRepo } from "../../scripts/lib/model/repo.ts";
import type { Chapter } from "../../scripts/lib/model/types.ts";

const chapter = (id: number, expect: string) => {
  const dir = `${String(id).padStart(2, "0")}-c${id}`;
  const text = `id: ${id}\ntitle: T\nsummary: S\n${expect}`;
  const r = parseChapter(text, `chapters/${dir}/chapter.yaml`, dir);
  return r;
};

const REQ = (name: string, then = "route: default") => `    - name: ${name}
      lesson: "a sentence"
      from: workshop/curl
      request: { url: "http://content-generator/x" }
      then: { ${then} }
`;

describe("expect: in chapter.yaml", () => {
  it("parses clients and requests, with positions of each then field", () => {
    const r = chapter(
      5,
      `expect:
  clients:
    - { namespace: workshop, name: curl, serviceAccount: default }
  requests:
${REQ("a", "route: default, weights: { v1: 90, v2: 10 }")}    - name: b
      lesson: "gateway"
      from: { gateway: istio-ingress/istio-ingress }
      request: { url: "https://portal.workshop.example/", jwt: { forged: true } }
      then:
        status: 401
`,
    );
    expect(r.findings).toEqual([]);
    const e = r.value!.expect;
    expect(e.clients[0]).toMatchObject({ namespace: "workshop", name: "curl", labels: {} });
    expect(e.requests[0]!.from).toEqual({ kind: "workload", namespace: "workshop", name: "curl" });
    expect(e.requests[1]!.from).toEqual({
      kind: "gateway",
      namespace: "istio-ingress",
      name: "istio-ingress",
    });
    expect(e.requests[1]!.thenPositions.status!.line).toBe(18);
    expect(e.requests[0]!.position.line).toBe(8);
  });

  it("rejects schema errors at their line, with the field named", () => {
    const r = chapter(5, `expect:\n  requests:\n${REQ("a", "route: default, subsett: v1")}`);
    expect(r.findings[0]).toMatchObject({ rule: "model/chapter", line: 10 });
    expect(r.findings[0]!.message).toContain("subsett");
    const badUrl = chapter(
      5,
      `expect:\n  requests:\n${REQ("a").replace("http://content-generator/x", "content-generator")}`,
    );
    expect(badUrl.findings[0]!.line).toBe(9);
  });

  it("rejects a name twice in one chapter, none beside requests, a change without a new definition", () => {
    expect(chapter(5, `expect:\n  requests:\n${REQ("a")}${REQ("a")}`).findings[0]!.message).toContain(
      "defined twice",
    );
    expect(chapter(5, `expect:\n  none: why\n  requests:\n${REQ("a")}`).findings[0]!.message).toContain(
      "expect.none",
    );
    expect(chapter(5, `expect:\n  changes: [{ name: a, reason: r }]`).findings[0]!.message).toContain(
      "do not redefine",
    );
  });
});

describe("expectations across chapters", () => {
  const ch = (id: number, e: string) => chapter(id, e).value! as Chapter;

  it("carries requests over, replaces them under changes, removes them under drops", () => {
    const chapters = [
      ch(5, `expect:\n  requests:\n${REQ("a")}${REQ("b")}${REQ("c")}`),
      ch(
        6,
        `expect:\n  requests:\n${REQ("b", "route: other")}  changes: [{ name: b, reason: moved }]\n  drops: [{ name: c, reason: gone }]`,
      ),
    ];
    expect(checkExpectationHistory(chapters)).toEqual([]);
    const at5 = effectiveExpectations(chapters, "05-c5", "primary");
    expect(at5.requests.map((r) => r.name)).toEqual(["a", "b", "c"]);
    const at6 = effectiveExpectations(chapters, "06-c6", "primary");
    expect(at6.requests.map((r) => `${r.name}:${r.then.route}:${r.chapter}`)).toEqual([
      "a:default:05-c5",
      "b:other:06-c6",
    ]);
  });

  it("refuses a silent redefinition and changes or drops of unknown names", () => {
    const chapters = [
      ch(5, `expect:\n  requests:\n${REQ("a")}`),
      ch(6, `expect:\n  requests:\n${REQ("a")}  drops: [{ name: zz, reason: r }]`),
    ];
    const f = checkExpectationHistory(chapters);
    expect(f.map((x) => x.message)).toEqual([
      expect.stringContaining("'zz', which no earlier chapter"),
      expect.stringContaining("'a' is already defined by 05-c5"),
    ]);
    expect(f[1]).toMatchObject({ file: "chapters/06-c6/chapter.yaml", line: 6 });
  });

  it("filters by cluster role", () => {
    const chapters = [ch(5, `expect:\n  requests:\n${REQ("a")}      roles: [remote]\n${REQ("b")}`)];
    expect(effectiveExpectations(chapters, "05-c5", "primary").requests.map((r) => r.name)).toEqual(["b"]);
  });

  it("the repository's chapters load: every chapter from 05 on has requests, the earlier ones say why not", async () => {
    const { model, findings } = await loadRepo(process.cwd());
    expect(findings).toEqual([]);
    for (const c of model!.chapters) {
      if (c.id < 5) expect(c.expect.none, c.dir).toBeTruthy();
      else expect(c.expect.requests.length, c.dir).toBeGreaterThan(0);
    }
    const at19 = effectiveExpectations(model!.chapters, "19-multicluster", "primary");
    expect(at19.requests.length).toBeGreaterThan(30);
    expect(effectiveExpectations(model!.chapters, "19-multicluster", "remote").requests).toEqual([]);
  });
});
