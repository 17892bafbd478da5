import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { exportOverlaps } from "../istio.ts";

interface Entry {
  se: Resource;
  host: string;
  port: number;
  protocol: string;
  hostIndex: number;
}

/** Every (host, port) of the ServiceEntries, with its protocol (upper case; unset is TCP... as written). */
export function seEntries(list: readonly Resource[]): Map<string, Entry[]> {
  const out = new Map<string, Entry[]>();
  for (const se of list) {
    const spec = asObj(se.object.spec);
    asArray(spec.hosts).forEach((h, hostIndex) => {
      if (typeof h !== "string") return;
      for (const p of asArray(spec.ports).map(asObj)) {
        if (typeof p.number !== "number") continue;
        const key = `${h}:${p.number}`;
        const protocol = typeof p.protocol === "string" ? p.protocol.toUpperCase() : "";
        out.set(key, [...(out.get(key) ?? []), { se, host: h, port: p.number, protocol, hostIndex }]);
      }
    });
  }
  return out;
}

export default defineRule({
  code: "se/conflicting-protocol",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0177", "KIA1212"],
  title: "ServiceEntries for one host and port agree on the protocol",
  description:
    "Two ServiceEntries visible together (exportTo) that define the same host and port with different protocols (HTTP and TLS, say) give the proxy two listeners' worth of contradicting configuration; which one wins depends on creation order.",
  hint: "use one protocol for the host and port, or merge the ServiceEntries",
  check({ index }) {
    const out: Report[] = [];
    const reported = new Set<Resource>();
    for (const entries of seEntries(index.allOf("ServiceEntry")).values()) {
      for (const e of entries) {
        if (e.se.peer || reported.has(e.se)) continue;
        const others = entries.filter(
          (o) => o.se !== e.se && o.protocol !== e.protocol && exportOverlaps(o.se, e.se),
        );
        if (others.length === 0) continue;
        reported.add(e.se);
        out.push({
          resource: e.se,
          path: ["spec", "hosts", e.hostIndex],
          message: `${describe(e.se)} defines ${e.host}:${e.port} as ${e.protocol || "(unset)"}, ${others.map((o) => `${describe(o.se)} as ${o.protocol || "(unset)"}`).join(", ")}`,
        });
      }
    }
    return out;
  },
});
