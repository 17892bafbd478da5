/**
 * The values istiod's sidecar injector accepts for the annotations it validates (istio/istio
 * `pkg/kube/inject/validate.go`, `AnnotationValidation`, at the pinned 1.30 commit). A pod whose
 * annotation fails here is not injected: the webhook refuses it, and istioctl reports IST0125.
 * Each check follows the Go parser it stands for (strconv, netip, resource.ParseQuantity), so the
 * same strings pass and fail; the messages are ours. Pure functions, no I/O.
 */
import { load } from "js-yaml";
import { isIP } from "node:net";
import { isObj, type Obj } from "./resource.ts";

/** An error message, or undefined when the value is accepted. */
export type ValueCheck = (value: string) => string | undefined;

/** strconv.ParseUint(s, 10, bits): digits only (no sign, no spaces), within range. */
function parseUint(s: string, max: number): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** netip.ParsePrefix: `addr/bits`, no zone, bits without sign or leading zero, within the family. */
export function prefixError(cidr: string): string | undefined {
  const i = cidr.lastIndexOf("/");
  if (i < 0) return `'${cidr}' is not a CIDR (no '/')`;
  const addr = cidr.slice(0, i);
  const bits = cidr.slice(i + 1);
  // Node's isIP accepts an IPv6 zone (`fe80::1%eth0`); a prefix may not have one.
  const family = addr.includes("%") ? 0 : isIP(addr);
  if (family === 0) return `'${cidr}' has no valid IP address before the '/'`;
  if (!/^(0|[1-9]\d*)$/.test(bits)) return `'${cidr}' has bad bits after the '/'`;
  if (Number(bits) > (family === 4 ? 32 : 128)) return `'${cidr}' has a prefix length out of range`;
  return undefined;
}

/** The injector splits on ',' without trimming: `10.0.0.0/8, 192.168.0.0/16` fails on the space. */
function cidrList(value: string): string | undefined {
  if (value === "") return undefined;
  for (const c of value.split(",")) {
    const e = prefixError(c);
    if (e) return e;
  }
  return undefined;
}

/** Port lists are trimmed, each port trimmed too; an empty item (`80,`) is an error. */
function portList(value: string): string | undefined {
  const v = value.trim();
  if (v === "") return undefined;
  for (const p of v.split(","))
    if (parseUint(p.trim(), 65535) === undefined) return `'${p}' is not a port (0-65535)`;
  return undefined;
}

/** Interface names as istio's netutil checks them: a letter, then letters, digits, `_.-`; 15 at most. */
function interfaces(value: string): string | undefined {
  if (value === "") return undefined;
  for (const raw of value.split(",")) {
    const i = raw.trim();
    if (i === "") return "an interface name is empty";
    if (i.length > 15) return `interface name '${i}' is longer than 15 characters`;
    if (!/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(i)) return `interface name '${i}' has invalid characters`;
  }
  return undefined;
}

/** Kubernetes resource.ParseQuantity: sign, digits with an optional fraction, one known suffix. */
const QUANTITY = /^[+-]?\d*(?:\.\d*)?(?:[numkMGTPE]|[KMGTPE]i|[eE][+-]?\d+)?$/;
function quantity(value: string): string | undefined {
  return value !== "" && QUANTITY.test(value)
    ? undefined
    : `'${value}' is not a Kubernetes quantity (50m, 128Mi)`;
}

/** strconv.ParseBool. */
const BOOLS = new Set(["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"]);

/** The injector reads the YAML as YAML 1.1 (sigs.k8s.io/yaml), where `yes`/`on`/`off` are booleans too. */
const YAML11_BOOL = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;
const isYamlBool = (v: unknown) => typeof v === "boolean" || (typeof v === "string" && YAML11_BOOL.test(v));

/** A protobuf duration in JSON form (`5s`, `1.5s`, `100ms` is not one). */
const DURATION = /^-?\d+(?:\.\d+)?s$/;

/** host:port with a port 1-65535 (the agent's ValidateProxyAddress, host checked loosely). */
function proxyAddress(v: unknown): string | undefined {
  if (typeof v !== "string") return "is not a string";
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  if (!m) return `'${v}' is not host:port`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${port} must be in the range 1..65535`;
  return undefined;
}

/** An int32 in protobuf JSON: a whole number, or a string of one (protojson takes both). */
function int32(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

const ENUMS: Record<string, readonly string[]> = {
  // The agent accepts only these two (INHERIT is refused).
  controlPlaneAuthPolicy: ["NONE", "MUTUAL_TLS"],
  interceptionMode: ["REDIRECT", "TPROXY", "NONE"],
};

/**
 * `proxy.istio.io/config`: YAML applied onto the default ProxyConfig, then the agent's
 * ValidateMeshConfigProxyConfig. Unknown fields are tolerated (the injector retries with
 * AllowUnknownFields); wrong types and the values the agent refuses are not. This checks the
 * fields people set in annotations (the ones the agent validates plus the common scalars).
 */
export function proxyConfigError(value: string): string | undefined {
  let doc: unknown;
  try {
    doc = load(value);
  } catch (e) {
    return `not YAML: ${(e as Error).message.split("\n")[0]}`;
  }
  if (doc === null || doc === undefined) return undefined;
  if (!isObj(doc)) return "is not a mapping of ProxyConfig fields";
  const pc: Obj = doc;
  const errs: string[] = [];
  const field = (name: string, e: string | undefined) => {
    if (e) errs.push(`${name} ${e}`);
  };
  const has = (k: string) => k in pc;
  for (const k of ["configPath", "binaryPath", "discoveryAddress", "serviceCluster"])
    if (has(k) && (typeof pc[k] !== "string" || pc[k] === "")) field(k, "must be a non-empty string");
  if (has("discoveryAddress") && typeof pc.discoveryAddress === "string" && pc.discoveryAddress !== "")
    field("discoveryAddress", proxyAddress(pc.discoveryAddress));
  if (has("statsdUdpAddress") && pc.statsdUdpAddress !== "")
    field("statsdUdpAddress", proxyAddress(pc.statsdUdpAddress));
  for (const k of ["envoyMetricsService", "envoyAccessLogService"]) {
    const addr = isObj(pc[k]) ? (pc[k] as Obj).address : undefined;
    if (addr !== undefined && addr !== "") field(`${k}.address`, proxyAddress(addr));
  }
  for (const k of ["proxyAdminPort", "statusPort"])
    if (has(k)) {
      const p = int32(pc[k]);
      if (p === undefined || p < 1 || p > 65535) field(k, "must be a port number in the range 1..65535");
    }
  if (has("concurrency") && int32(pc.concurrency) === undefined) field("concurrency", "must be an integer");
  if (has("holdApplicationUntilProxyStarts") && !isYamlBool(pc.holdApplicationUntilProxyStarts))
    field("holdApplicationUntilProxyStarts", "must be true or false");
  for (const k of ["drainDuration", "terminationDrainDuration"])
    if (has(k) && !(typeof pc[k] === "string" && DURATION.test(pc[k])))
      field(k, `'${String(pc[k])}' is not a duration in seconds ('5s')`);
  if (typeof pc.drainDuration === "string" && DURATION.test(pc.drainDuration)) {
    const secs = Number(pc.drainDuration.slice(0, -1));
    // The agent's ValidateDrainDuration: at least 1ms, and whole seconds.
    if (secs < 0.001) field("drainDuration", "must be greater than 1ms");
    else if (!Number.isInteger(secs)) field("drainDuration", "supports whole seconds only");
  }
  for (const [k, allowed] of Object.entries(ENUMS))
    if (has(k) && !allowed.includes(String(pc[k]))) field(k, `must be one of ${allowed.join(", ")}`);
  if (has("proxyMetadata")) {
    const md = pc.proxyMetadata;
    if (!isObj(md) || Object.values(md).some((v) => typeof v !== "string"))
      field("proxyMetadata", "must map names to string values");
  }
  return errs.length ? errs.join("; ") : undefined;
}

/** Annotation name -> the injector's check of its value. */
export const INJECT_VALIDATION: Readonly<Record<string, ValueCheck>> = {
  "sidecar.istio.io/interceptionMode": (v) =>
    ["REDIRECT", "TPROXY", "NONE"].includes(v) ? undefined : `'${v}' is not REDIRECT, TPROXY or NONE`,
  "status.sidecar.istio.io/port": (v) =>
    parseUint(v.trim(), 65535) === undefined ? `'${v}' is not a port (0-65535)` : undefined,
  "readiness.status.sidecar.istio.io/initialDelaySeconds": (v) =>
    parseUint(v, 2 ** 32 - 1) === undefined ? `'${v}' is not a non-negative integer` : undefined,
  "readiness.status.sidecar.istio.io/periodSeconds": (v) =>
    parseUint(v, 2 ** 32 - 1) === undefined ? `'${v}' is not a non-negative integer` : undefined,
  "readiness.status.sidecar.istio.io/failureThreshold": (v) =>
    parseUint(v, 2 ** 32 - 1) === undefined ? `'${v}' is not a non-negative integer` : undefined,
  "traffic.sidecar.istio.io/includeOutboundIPRanges": (v) => (v === "*" ? undefined : cidrList(v)),
  "traffic.sidecar.istio.io/excludeOutboundIPRanges": cidrList,
  "traffic.sidecar.istio.io/includeInboundPorts": (v) => (v === "*" ? undefined : portList(v)),
  "traffic.sidecar.istio.io/excludeInboundPorts": portList,
  "traffic.sidecar.istio.io/excludeOutboundPorts": portList,
  "traffic.sidecar.istio.io/excludeInterfaces": interfaces,
  "traffic.sidecar.istio.io/kubevirtInterfaces": interfaces,
  "istio.io/reroute-virtual-interfaces": interfaces,
  "prometheus.istio.io/merge-metrics": (v) => (BOOLS.has(v) ? undefined : `'${v}' is not a boolean`),
  "proxy.istio.io/config": proxyConfigError,
  "sidecar.istio.io/proxyCPU": quantity,
  "sidecar.istio.io/proxyMemory": quantity,
  "sidecar.istio.io/proxyCPULimit": quantity,
  "sidecar.istio.io/proxyMemoryLimit": quantity,
};
