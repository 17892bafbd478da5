// The workshop-app chart rendered and linted by the real helm, offline: names, labels and ports
// Istio relies on, per-version Deployments, value overrides, and values the schema must reject.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parse } from "yaml";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import { publishedImages } from "../../scripts/lib/validate/images-workflow.ts";
import { ROOT } from "./support/process.ts";

const run = promisify(execFile);
const CHART = join(ROOT, "apps/chart");
const FIXTURES = join(ROOT, "test/apps/fixtures/chart");

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown> & {
    replicas?: number;
    template?: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
    ports?: { name: string; port: number; targetPort: string; appProtocol?: string }[];
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: unknown;
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown>;
  serviceAccountName?: string;
  volumes?: { name: string; secret?: { secretName: string } }[];
  topologySpreadConstraints?: unknown[];
}

let helm: string;
// resolveTool builds helm with `go install` when no pinned binary is around, which takes minutes.
beforeAll(async () => {
  helm = await resolveTool("helm");
}, 600_000);

async function renderText(...valueFiles: string[]): Promise<string> {
  const args = ["template", "workshop-app", CHART, "--namespace", "workshop"];
  for (const file of valueFiles) args.push("-f", join(FIXTURES, file));
  const { stdout } = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function render(...valueFiles: string[]): Promise<Manifest[]> {
  return parseAllDocuments(await renderText(...valueFiles))
    .map((document) => document.toJSON() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

const find = (manifests: Manifest[], kind: string, name: string) =>
  manifests.find((manifest) => manifest.kind === kind && manifest.metadata.name === name);
const envOf = (container: Container | undefined) =>
  Object.fromEntries((container?.env ?? []).map((entry) => [entry.name, entry.value ?? entry.valueFrom]));

describe("helm lint", () => {
  it("passes with the default values and with a lesson's values", async () => {
    const plain = await run(helm, ["lint", CHART, "--namespace", "workshop"]);
    expect(plain.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    const lesson = await run(helm, [
      "lint",
      CHART,
      "--namespace",
      "workshop",
      "-f",
      join(FIXTURES, "lesson-values.yaml"),
    ]);
    expect(lesson.stdout).toContain("0 chart(s) failed");
  });

  it("has no chart dependencies (it renders offline)", () => {
    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as Record<string, unknown>;
    expect(chart["name"]).toBe("workshop-app");
    expect(chart["dependencies"]).toBeUndefined();
  });
});

describe("helm template with the default values", () => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await render();
  });

  it("puts every resource in the release namespace", () => {
    expect(manifests.length).toBeGreaterThan(20);
    for (const manifest of manifests)
      expect(manifest.metadata.namespace, `${manifest.kind}/${manifest.metadata.name}`).toBe("workshop");
  });

  it("runs a Deployment per version, labelled app and version on the Deployment and the pods", () => {
    const deployments = manifests
      .filter((manifest) => manifest.kind === "Deployment")
      .map((manifest) => manifest.metadata.name);
    expect(deployments.sort()).toEqual([
      "auth-service-v1",
      "content-generator-v1",
      "content-generator-v2",
      "content-generator-v3",
      "frontend-portal-v1",
      "image-processor-v1",
      "mailing-service-v1",
    ]);
    const v3 = find(manifests, "Deployment", "content-generator-v3")!;
    expect(v3.metadata.labels).toMatchObject({ app: "content-generator", version: "v3" });
    expect(v3.spec?.template?.metadata.labels).toMatchObject({ app: "content-generator", version: "v3" });
    expect(v3.spec?.replicas).toBe(0);
    expect(envOf(v3.spec?.template?.spec.containers[0])).toMatchObject({ VERSION: "v3", FAULT_MODE: "none" });
    expect(find(manifests, "Deployment", "content-generator-v2")?.spec?.replicas).toBe(1);
  });

  it("gives each service one Service named after it with Istio's port naming, and a ServiceAccount", () => {
    for (const name of [
      "frontend-portal",
      "auth-service",
      "content-generator",
      "image-processor",
      "mailing-service",
    ]) {
      const service = find(manifests, "Service", name)!;
      expect(service.spec?.["selector"]).toEqual({ app: name });
      expect(service.spec?.ports).toEqual([
        { name: "http", port: 80, targetPort: "http", protocol: "TCP", appProtocol: "http" },
      ]);
      expect(find(manifests, "ServiceAccount", name)).toBeDefined();
      expect(find(manifests, "PodDisruptionBudget", name)).toBeDefined();
    }
    expect(find(manifests, "Service", "postgres")?.spec?.ports?.[0]?.name).toBe("tcp-postgres");
    expect(find(manifests, "Service", "redis")?.spec?.ports?.[0]?.name).toBe("tcp-redis");
    expect(find(manifests, "StatefulSet", "postgres")).toBeDefined();
    expect(find(manifests, "StatefulSet", "redis")).toBeDefined();
  });

  it("runs hardened pods with probes, resources, a named http port and topology spread", () => {
    for (const deployment of manifests.filter((manifest) => manifest.kind === "Deployment")) {
      const pod = deployment.spec!.template!.spec;
      const container = pod.containers[0]!;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(container.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
      expect(container.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
      expect(container.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "http" } });
      expect(container.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "http" } });
      expect(container.resources).toHaveProperty("requests");
      expect(pod.topologySpreadConstraints).toHaveLength(1);
      expect(pod.serviceAccountName).toBe(deployment.metadata.labels?.["app"]);
    }
    const portal = find(manifests, "Deployment", "frontend-portal-v1")!;
    expect(envOf(portal.spec?.template?.spec.containers[0])).toMatchObject({
      ISTIO_SVC_CONTENT_GENERATOR: "http://content-generator",
      ISTIO_SVC_AUTH_SERVICE: "http://auth-service",
      PROPAGATE_TRACE_HEADERS: "true",
    });
    expect(portal.spec?.template?.spec.containers[0]?.image).toBe(
      "ghcr.io/istio-gitops-workshop/frontend-portal:0.1.0",
    );
  });

  it("pulls only images the images workflow pushes from main: <registry>/<service>:<appVersion>", () => {
    // The tag the chart pins by default has to be one .github/workflows/images.yaml really pushes
    // (it used to pin 0.1.0, which only a v0.1.0 git tag would have pushed, and none exists).
    const read = (rel: string) =>
      existsSync(join(ROOT, rel)) ? readFileSync(join(ROOT, rel), "utf8") : undefined;
    const published = publishedImages(read(".github/workflows/images.yaml")!, {
      owner: "istio-gitops-workshop",
      readFile: read,
      gitTags: [],
    });
    expect(published.unresolved).toEqual([]);
    const fromMain = published.tags.flatMap((t) =>
      "tag" in t && t.why.startsWith("every push to main") ? [t.tag] : [],
    );
    const appVersion = (parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { appVersion: string })
      .appVersion;
    expect(fromMain).toContain(appVersion);
    const images = manifests
      .filter(
        (m) => m.kind === "Deployment" && m.metadata.labels?.["app.kubernetes.io/part-of"] === "workshop-app",
      )
      .flatMap((m) => m.spec!.template!.spec.containers.map((c) => c.image))
      .filter((image) => image.startsWith("ghcr.io/"));
    expect(images.length).toBeGreaterThanOrEqual(5);
    for (const image of images) {
      const [repository, tag] = image.split(/:(?=[^:]+$)/) as [string, string];
      expect(published.repositories, image).toContain(repository);
      expect(fromMain, image).toContain(tag);
    }
  });

  it("renders no key material and no HPA or load test by default", () => {
    const secrets = manifests.filter((manifest) => manifest.kind === "Secret");
    expect(secrets.map((secret) => secret.metadata.name)).toEqual(["postgres-auth"]);
    expect(Object.keys(secrets[0]?.stringData ?? {}).sort()).toEqual(["password", "username"]);
    expect(JSON.stringify(manifests)).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    expect(
      manifests.some((manifest) => manifest.kind === "HorizontalPodAutoscaler" || manifest.kind === "Job"),
    ).toBe(false);
  });
});

describe("helm template and the sidecar's lifetime", () => {
  const proxyConfig = (manifests: Manifest[], name: string) =>
    parse(
      find(manifests, "Deployment", name)!.spec!.template!.metadata.annotations!["proxy.istio.io/config"]!,
    ) as Record<string, unknown>;

  it("keeps Envoy up for the whole grace period, so it outlives the app's drain", async () => {
    const manifests = await render();
    for (const deployment of manifests.filter((manifest) => manifest.kind === "Deployment")) {
      expect(proxyConfig(manifests, deployment.metadata.name)).toEqual({
        holdApplicationUntilProxyStarts: true,
        terminationDrainDuration: "30s",
      });
    }
  });

  it("follows the grace period and merges a proxy config given in the values", async () => {
    const manifests = await render("sidecar-drain.yaml");
    expect(proxyConfig(manifests, "content-generator-v1")).toEqual({
      concurrency: 2,
      holdApplicationUntilProxyStarts: true,
      terminationDrainDuration: "45s",
    });
    expect(proxyConfig(manifests, "frontend-portal-v1")["terminationDrainDuration"]).toBe("45s");
    const pod = find(manifests, "Deployment", "frontend-portal-v1")!.spec!.template!.spec;
    expect((pod as unknown as { terminationGracePeriodSeconds: number }).terminationGracePeriodSeconds).toBe(
      45,
    );
    expect(envOf(pod.containers[0])["SHUTDOWN_TIMEOUT_MS"]).toBe("36000");
  });

  it("renders the PostgreSQL Secret for the in-chart PostgreSQL even without image-processor", async () => {
    const manifests = await render("sidecar-drain.yaml");
    expect(find(manifests, "StatefulSet", "postgres")).toBeDefined();
    expect(find(manifests, "Secret", "postgres-auth")).toBeDefined();
  });
});

describe("helm template with a lesson's values", () => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await render("lesson-values.yaml");
  });

  it("adds versions with their own replicas, env and resources, and drops disabled services", () => {
    const v4 = find(manifests, "Deployment", "content-generator-v4")!;
    expect(v4.spec?.replicas).toBe(2);
    const container = v4.spec!.template!.spec.containers[0]!;
    expect(envOf(container)).toMatchObject({
      VERSION: "v4",
      FAULT_MODE: "errors:0.5",
      PROPAGATE_TRACE_HEADERS: "false",
    });
    expect(container.resources).toEqual({ requests: { cpu: "10m", memory: "32Mi" } });
    expect(find(manifests, "Deployment", "content-generator-v2")).toBeUndefined();
    expect(manifests.some((manifest) => manifest.metadata.name.startsWith("mailing-service"))).toBe(false);
    expect(v4.spec?.template?.metadata.annotations).toMatchObject({ "sidecar.istio.io/proxyCPU": "50m" });
  });

  it("autoscales the portal with its own rolling-update strategy", () => {
    const portal = find(manifests, "Deployment", "frontend-portal-v1")!;
    expect(portal.spec?.replicas).toBeUndefined();
    expect(portal.spec?.["strategy"]).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
    });
    expect(find(manifests, "HorizontalPodAutoscaler", "frontend-portal-v1")?.spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 6,
      scaleTargetRef: { kind: "Deployment", name: "frontend-portal-v1" },
    });
  });

  it("mounts the auth signing key from the named Secret", () => {
    const pod = find(manifests, "Deployment", "auth-service-v1")!.spec!.template!.spec;
    expect(pod.volumes).toContainEqual({
      name: "jwt-key",
      secret: { secretName: "auth-signing-key", defaultMode: 0o440 },
    });
    expect(envOf(pod.containers[0])["JWT_PRIVATE_KEY_FILE"]).toBe("/var/run/secrets/workshop/jwt/es256.pem");
  });

  it("points at an external PostgreSQL instead of running one", () => {
    expect(find(manifests, "StatefulSet", "postgres")).toBeUndefined();
    const env = envOf(
      find(manifests, "Deployment", "image-processor-v1")!.spec!.template!.spec.containers[0],
    );
    expect(env).toMatchObject({
      PGHOST: "db.example.internal",
      PGPORT: "6432",
      REDIS_URL: "redis://redis:6379",
    });
  });

  it("runs the load test as a Job in the namespace outside the mesh", () => {
    const job = find(manifests, "Job", "load-test")!;
    expect(job.metadata.namespace).toBe("loadgen");
    const container = (job.spec as { template: { spec: PodSpec } }).template.spec.containers[0]!;
    expect(container.image).toBe("ghcr.io/istio-gitops-workshop/load-test:0.1.0");
    expect(container.args).toEqual([
      "--url=http://frontend-portal.workshop/",
      "--connections=32",
      "--duration=60s",
      "--warmup=10s",
      "--path=/",
      "--path=/api/content",
      "--header=x-lesson: mtls",
      "--jwt-env=PERF_JWT",
      "--label=loadgen",
      "--out=/reports/load-test",
    ]);
  });
});

// The offline Kubernetes schemas shared/ carries beside the repository (VALIDATE_SCHEMA_ROOT overrides).
const SCHEMA_ROOT = process.env["VALIDATE_SCHEMA_ROOT"] ?? join(ROOT, "../shared/schemas");
const K8S_VERSION = "1.36.0";

describe("helm template with a fork's images (what compose passes from cluster.yaml)", () => {
  it("pulls every service and the load test from the fork's registry, tagged with the appVersion", async () => {
    const manifests = await render("fork-images.yaml");
    const appVersion = (parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { appVersion: string })
      .appVersion;
    const images = manifests.flatMap((m) =>
      m.kind === "Deployment" || m.kind === "Job"
        ? ((m.spec as { template: { spec: PodSpec } }).template.spec.containers ?? []).map((c) => c.image)
        : [],
    );
    expect(images).toContain(`ghcr.io/alice/frontend-portal:${appVersion}`);
    expect(images).toContain(`ghcr.io/alice/load-test:${appVersion}`);
    for (const image of images)
      expect(image).toMatch(new RegExp(`^ghcr\\.io/alice/[a-z-]+:${appVersion.replace(/\./g, "\\.")}$`));
  });
});

describe("rendered manifests against the Kubernetes schemas", () => {
  it.skipIf(!existsSync(join(SCHEMA_ROOT, `kubernetes/v${K8S_VERSION}-standalone-strict`)))(
    "are valid for kubeconform -strict, with default and lesson values",
    async () => {
      const kubeconform = await resolveTool("kubeconform");
      const dir = mkdtempSync(join(tmpdir(), "workshop-chart-"));
      try {
        const files = [join(dir, "default.yaml"), join(dir, "lesson.yaml")];
        writeFileSync(files[0]!, await renderText());
        writeFileSync(files[1]!, await renderText("lesson-values.yaml"));
        const location = join(
          SCHEMA_ROOT,
          "kubernetes/{{ .NormalizedKubernetesVersion }}-standalone-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json",
        );
        const { stdout } = await run(kubeconform, [
          "-strict",
          "-summary",
          "-kubernetes-version",
          K8S_VERSION,
          "-schema-location",
          location,
          ...files,
        ]);
        expect(stdout).toMatch(/Valid: \d+, Invalid: 0, Errors: 0, Skipped: 0/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    600_000,
  );
});

describe("values the schema rejects", () => {
  it("an unknown key", async () => {
    await expect(render("rejected-unknown-key.yaml")).rejects.toThrow(/versionz/);
  });

  it("an image-processor without any PostgreSQL, with a message saying what to set", async () => {
    await expect(render("rejected-no-postgres.yaml")).rejects.toThrow(
      /image-processor needs PostgreSQL: set stores.postgres.enabled or stores.postgres.external.host/,
    );
  });

  it("a grace period not longer than the shutdown delay", async () => {
    await expect(render("rejected-grace-delay.yaml")).rejects.toThrow(
      /global.shutdown.terminationGracePeriodSeconds \(10\) must be greater than global.shutdown.delaySeconds \(10\)/,
    );
  });

  it("more than one auth-service pod without a mounted signing key", async () => {
    await expect(render("rejected-auth-replicas.yaml")).rejects.toThrow(
      /auth-service would run 2 pod\(s\).*services.auth-service.jwt.existingSecret/,
    );
    await expect(render("rejected-auth-versions.yaml")).rejects.toThrow(/auth-service would run 2 pod\(s\)/);
    await expect(render("rejected-auth-hpa.yaml")).rejects.toThrow(
      /auth-service would run 1 pod\(s\) with an HPA/,
    );
  });

  it("a bad version name, a structured env value and a negative rate", async () => {
    const failure = await render("rejected-bad-values.yaml").catch((error: Error) => error.message);
    expect(failure).toMatch(/values don't meet the specifications of the schema/);
    expect(failure).toMatch(/V1/);
    expect(failure).toMatch(/FAULT_MODE/);
    expect(failure).toMatch(/rate/);
  });
});
