import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe } from "../resource.ts";

/**
 * Envoy's old filter names and their canonical ones (Istio's pkg/config/xds DeprecatedFilterNames).
 * istiod generates canonical names and still maps these for backward compatibility.
 */
export const RENAMED: Record<string, string> = {
  "envoy.buffer": "envoy.filters.http.buffer",
  "envoy.cors": "envoy.filters.http.cors",
  "envoy.csrf": "envoy.filters.http.csrf",
  "envoy.http_dynamo_filter": "envoy.filters.http.dynamo",
  "envoy.ext_authz": "envoy.filters.http.ext_authz (or envoy.filters.network.ext_authz)",
  "envoy.fault": "envoy.filters.http.fault",
  "envoy.grpc_http1_bridge": "envoy.filters.http.grpc_http1_bridge",
  "envoy.grpc_json_transcoder": "envoy.filters.http.grpc_json_transcoder",
  "envoy.grpc_web": "envoy.filters.http.grpc_web",
  "envoy.gzip": "envoy.filters.http.gzip",
  "envoy.health_check": "envoy.filters.http.health_check",
  "envoy.ip_tagging": "envoy.filters.http.ip_tagging",
  "envoy.lua": "envoy.filters.http.lua",
  "envoy.rate_limit": "envoy.filters.http.ratelimit",
  "envoy.router": "envoy.filters.http.router",
  "envoy.squash": "envoy.filters.http.squash",
  "envoy.listener.http_inspector": "envoy.filters.listener.http_inspector",
  "envoy.listener.original_dst": "envoy.filters.listener.original_dst",
  "envoy.listener.original_src": "envoy.filters.listener.original_src",
  "envoy.listener.proxy_protocol": "envoy.filters.listener.proxy_protocol",
  "envoy.listener.tls_inspector": "envoy.filters.listener.tls_inspector",
  "envoy.client_ssl_auth": "envoy.filters.network.client_ssl_auth",
  "envoy.http_connection_manager": "envoy.filters.network.http_connection_manager",
  "envoy.mongo_proxy": "envoy.filters.network.mongo_proxy",
  "envoy.ratelimit": "envoy.filters.network.ratelimit",
  "envoy.redis_proxy": "envoy.filters.network.redis_proxy",
  "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
};

export default defineRule({
  code: "envoyfilter/renamed-filter",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0133"],
  title: "EnvoyFilter matches use Envoy's current filter names",
  description:
    "Envoy renamed its filters (`envoy.http_connection_manager` became `envoy.filters.network.http_connection_manager`, `envoy.router` became `envoy.filters.http.router`...). The configuration istiod generates uses the new names only; a match on an old name still works through a compatibility table in istiod, which is deprecated, and istioctl warns about it (IST0133).",
  hint: "use the filter's current name",
  check({ index }) {
    const out: Report[] = [];
    for (const ef of index.of("EnvoyFilter")) {
      asArray(asObj(ef.object.spec).configPatches).forEach((cp, i) => {
        const filter = asObj(asObj(asObj(asObj(asObj(cp).match).listener).filterChain).filter);
        const base = ["spec", "configPatches", i, "match", "listener", "filterChain", "filter"];
        const names: Array<[string | undefined, Array<string | number>]> = [
          [asString(filter.name), [...base, "name"]],
          [asString(asObj(filter.subFilter).name), [...base, "subFilter", "name"]],
        ];
        for (const [name, path] of names) {
          if (!name || !(name in RENAMED)) continue;
          out.push({
            resource: ef,
            path,
            message: `${describe(ef)} configPatches[${i}] matches filter '${name}', Envoy's deprecated name for '${RENAMED[name]}'; istiod matches it only through a compatibility table`,
          });
        }
      });
    }
    return out;
  },
});
