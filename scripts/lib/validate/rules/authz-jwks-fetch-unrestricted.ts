import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, asStringMap, describe } from "../resource.ts";
import { podTemplate } from "../resource-index.ts";
import { prefixError } from "../inject-validation.ts";

const ENV = "BLOCKED_CIDRS_IN_JWKS_URIS";
const FETCH_MODE = "PILOT_JWT_ENABLE_REMOTE_JWKS";

/**
 * istiod parses the list with net.ParseCIDR after trimming each item, and skips (with a log line)
 * what does not parse: such items block nothing.
 */
function badCidrs(value: string): string[] {
  return value
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "" && prefixError(c) !== undefined);
}

export default defineRule({
  code: "authz/jwks-fetch-unrestricted",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0175"],
  title: "istiod restricts where it fetches JWKS from when RequestAuthentications exist",
  description:
    "istiod fetches the `jwksUri` of every RequestAuthentication (unless the proxies fetch it themselves, PILOT_JWT_ENABLE_REMOTE_JWKS), so whoever may write a RequestAuthentication can make istiod open HTTP connections to any address its network reaches: the cloud metadata endpoint, the API server, other private services. istiod 1.30 refuses connections to the CIDRs listed in its `BLOCKED_CIDRS_IN_JWKS_URIS` environment variable; with RequestAuthentications in the render and an istiod Deployment (label `app: istiod`) without it, istioctl reports IST0175. Items of the list that are not CIDRs are skipped by istiod and block nothing; they are reported too. A value from `valueFrom` counts as set. Unlike istioctl, an istiod with `PILOT_JWT_ENABLE_REMOTE_JWKS: envoy` is not reported: in that mode the proxies fetch every JWKS and istiod none.",
  hint: "set pilot.env.BLOCKED_CIDRS_IN_JWKS_URIS in the istiod values (the private, loopback and link-local ranges the JWKS servers are not in)",
  check({ index }) {
    const ras = index.of("RequestAuthentication");
    if (ras.length === 0) return [];
    const names = ras.map((r) => `${r.ns}/${r.name}`);
    const shown =
      names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");
    const out: Report[] = [];
    for (const d of index.of("Deployment")) {
      // The analyzer's test: the Deployment's own `app: istiod` label (any revision).
      if (asStringMap(asObj(d.object.metadata).labels).app !== "istiod") continue;
      const t = podTemplate(d);
      if (!t) continue;
      let found: { value: string; path: Array<string | number> } | undefined;
      let fromRef = false;
      let proxiesFetch = false;
      asArray(t.spec.containers).forEach((c, ci) =>
        asArray(asObj(c).env).forEach((e, ei) => {
          const env = asObj(e);
          if (env.name === FETCH_MODE && asString(env.value) === "envoy") proxiesFetch = true;
          if (env.name !== ENV) return;
          const value = asString(env.value);
          if (value) found = { value, path: [...t.path, "containers", ci, "env", ei, "value"] };
          else if (env.valueFrom) fromRef = true;
        }),
      );
      // In `envoy` mode istiod fetches no JWKS at all (the proxies do); istioctl warns there too.
      if (proxiesFetch || (fromRef && !found)) continue;
      if (!found) {
        out.push({
          resource: d,
          path: [...t.path, "containers"],
          message: `${describe(d)} has no ${ENV}, but ${names.length} RequestAuthentication(s) exist (${shown}): istiod fetches their jwksUri from any address it can reach`,
        });
        continue;
      }
      const bad = badCidrs(found.value);
      if (bad.length)
        out.push({
          resource: d,
          path: found.path,
          message: `${describe(d)} has ${ENV} items that are not CIDRs (${bad.join(", ")}): istiod skips them, so they block nothing`,
        });
    }
    return out;
  },
});
