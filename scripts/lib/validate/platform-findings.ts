/**
 * Findings about the platform render itself (not about its objects): charts that could not be
 * had offline (not validated), and charts whose output changes between two renders of the same
 * values, which Argo CD would show OutOfSync forever. The latter name the value that pins them
 * where the chart is known.
 */
import type { ValidationFinding } from "./engine.ts";
import type { PlatformRender } from "../render/platform.ts";
import { objectFileName } from "../render/layout.ts";

/** chart -> template -> the value that makes its output stable. */
const PINNING_VALUES: Record<string, Record<string, string>> = {
  grafana: {
    "templates/secret.yaml":
      "`admin.existingSecret` (a Secret with admin-user and admin-password that you create), so the chart renders no random password",
    "templates/deployment.yaml":
      "`admin.existingSecret`: the Deployment's checksum annotation follows the random Secret",
  },
  "kiali-server": {
    "templates/configmap.yaml":
      "`login_token.signing_key` (`secret:<name>:<key>` of a Secret you create), so the chart renders no random signing key",
    "templates/deployment.yaml":
      "`login_token.signing_key`: the Deployment's checksum annotation follows the random ConfigMap",
  },
};

export function platformFindings(p: PlatformRender, base: string, context: string): ValidationFinding[] {
  const out: ValidationFinding[] = [];
  for (const f of p.findings) out.push({ ...f, context });
  for (const m of p.missing)
    out.push({
      ...m.release.position,
      rule: "charts/not-validated",
      severity: "warning",
      anchors: [],
      message: `platform release '${m.release.name}' is not validated: ${m.reason}`,
      hint: "run `pnpm charts` once online, or set CHART_MIRROR to an offline chart mirror",
      context,
    });
  for (const r of p.rendered)
    for (const u of r.unstable) {
      const pin = PINNING_VALUES[r.locked.chart]?.[u.template];
      out.push({
        file: `${base}/platform/${r.release.name}/${objectFileName({ kind: u.kind, metadata: { name: u.name, ...(u.namespace ? { namespace: u.namespace } : {}) } })}`,
        line: 1,
        column: 1,
        rule: "render/unstable-output",
        severity: "error",
        anchors: [],
        message: `${u.kind} ${u.namespace ? `${u.namespace}/` : ""}${u.name} of release '${r.release.name}' (${r.locked.chart} ${r.locked.version}, ${u.template}) differs between two renders of the same values: Argo CD would show ${r.application} OutOfSync forever and rewrite it on every sync`,
        hint: pin
          ? `set ${pin} in the chapter that enables '${r.release.name}'`
          : "find the random or `lookup` value in that template and set it in the chapter's values",
        resource: {
          apiVersion: u.apiVersion,
          kind: u.kind,
          ...(u.namespace ? { namespace: u.namespace } : {}),
          name: u.name,
        },
        sources: [`${r.locked.chart}-${r.locked.version}/${u.template}`],
        context,
      });
    }
  return out;
}
