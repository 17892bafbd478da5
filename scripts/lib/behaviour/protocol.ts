/**
 * The contract between the behaviour layer (TypeScript) and the mesh simulation helper
 * (scripts/go/mesh-sim, built on Istio's own pilot/test/xds and pilot/pkg/simulation).
 *
 * One helper run per cluster x chapter: a SimInput as JSON on stdin, a SimOutput as JSON on stdout.
 * The helper never touches the network: JWKS documents come in `jwks`, keyed by issuer.
 *
 * Draft v1 — the two sides may extend it (add optional fields); changing a field's meaning is a
 * protocol version bump (`version`).
 */
export const SIM_PROTOCOL_VERSION = 1;

export interface SimInput {
  version: typeof SIM_PROTOCOL_VERSION;
  /** The cluster's DNS suffix (cluster.yaml), e.g. "cluster.local". */
  clusterDomain: string;
  /** istiod's meshConfig as rendered (the `mesh` key of the istio ConfigMap, parsed), or null for Istio's defaults. */
  meshConfig: Record<string, unknown> | null;
  /**
   * Every rendered object of this cluster at this chapter (platform, mesh, apps), as multi-document YAML.
   * The helper reads Namespaces (injection labels), Services, Deployments/StatefulSets/DaemonSets
   * (one pod per replica, IP 10.244.x.y; a Service without a ClusterIP gets 10.96.x.y) and every
   * *.istio.io object; the rest is ignored. A workload whose template has the annotation
   * `inject.istio.io/templates: gateway` (or label istio=ingressgateway/egressgateway) is a gateway
   * proxy; istiod's own Deployment is skipped. Include the platform releases (the gateway charts).
   */
  objects: string;
  /** Client workloads the lesson uses that the render lacks (chapter.yaml `expect.clients`). */
  clients: SimWorkload[];
  /**
   * JWKS JSON documents keyed by issuer, used instead of fetching a RequestAuthentication's jwksUri
   * (the helper never fetches). An issuer with none: its tokens make the request `notEvaluable`.
   * Tokens are checked like Envoy does: signature, iss, aud, and exp/nbf against the current time
   * (sign with a far-off exp, or none).
   */
  jwks: Record<string, string>;
  requests: SimRequest[];
  /**
   * Also judge every EnvoyFilter (SimOutput.envoyFilters): set only when the objects hold one, so
   * the inputs (and cached outputs) of the other scopes stay as they were.
   */
  envoyFilters?: boolean;
}

export interface SimWorkload {
  namespace: string;
  name: string;
  /** Pod labels; `app: <name>` is added when absent. */
  labels: Record<string, string>;
  serviceAccount: string;
  /** Whether the pod has a sidecar; omitted: as the namespace's injection label says. */
  sidecar?: boolean;
}

/** Where a request starts. */
export type SimSource =
  /** A pod of a Deployment/StatefulSet in the render, or a client from `clients` (by name). */
  | { kind: "workload"; namespace: string; name: string }
  /** From outside the mesh into a gateway Deployment (e.g. istio-ingress/istio-ingress). */
  | { kind: "gateway"; namespace: string; name: string };

export interface SimRequest {
  /** Unique within the run; results carry it back. */
  id: string;
  from: SimSource;
  /**
   * What the client calls: the Host/:authority (and SNI for TLS) and the port. A short name
   * ("reviews", "reviews.ns") resolves like cluster DNS from the source's namespace; a host that is
   * no Service (a ServiceEntry host, the internet) gets an address outside the cluster. For
   * `kind: gateway` the port is the gateway Service's port (80/443), mapped to its targetPort.
   * A source without a sidecar connects straight to a pod of the Service (kube-proxy).
   */
  host: string;
  port: number;
  /** "http": plain HTTP; "https": TLS from the client (SNI = host), then HTTP; "tcp": raw TCP. */
  protocol: "http" | "https" | "tcp";
  path: string;
  method: string;
  /**
   * Request headers, lower-case names; cookies in `cookie` ("a=1; b=2"), a JWT in
   * `authorization` ("Bearer ..."). A query string goes in `path` ("/x?canary=1").
   */
  headers: Record<string, string>;
}

export interface SimHop {
  /** The proxy this hop runs in: "<namespace>/<workload>". */
  proxy: string;
  direction: "outbound" | "inbound";
  listener?: string;
  filterChain?: string;
  routeConfig?: string;
  virtualHost?: string;
  /** The matched route's name (the VirtualService http route `name`), if any. */
  route?: string;
  /** The cluster the request goes to; for weighted routes the cluster the helper followed. */
  cluster?: string;
  /** The DestinationRule subset of `cluster` ("outbound|80|v2|reviews..." -> "v2"), if any. */
  subset?: string;
  /** All clusters of a weighted route with their weights (Envoy's total is 100 unless stated). */
  weightedClusters?: { cluster: string; weight: number }[];
  /** Healthy endpoints of `cluster` as the proxy would see them. */
  endpoints?: number;
  fault?: {
    delay?: { fixedDelay: string; percent: number };
    abort?: { httpStatus?: number; grpcStatus?: number; percent: number };
  };
  mirrors?: { cluster: string; percent: number }[];
  /** Route timeout as Envoy duration ("2s"); "0s" = none. */
  timeout?: string;
  retries?: { attempts: number; perTryTimeout?: string; retryOn?: string };
  hashPolicy?: {
    cookie?: { name: string; ttl?: string; path?: string };
    header?: string;
    queryParameter?: string;
    sourceIp?: boolean;
  }[];
  /** TLS the proxy uses towards `cluster`: "ISTIO_MUTUAL", "MUTUAL", "SIMPLE" or "DISABLE". */
  upstreamTls?: string;
  /** Inbound JWT verdict (jwt_authn filter). */
  jwt?: { ok: boolean; status?: number; reason?: string };
  /** Inbound RBAC verdict (Envoy RBAC filters Istio generated). */
  rbac?: { allowed: boolean; status?: number; policy?: string };
  /** Why the walk stopped at this hop, as Istio's simulation says it ("no route matched", ...). */
  error?: string;
}

export interface SimResult {
  id: string;
  /** Every proxy the request passes, in order (source sidecar or gateway, egress gateway, destination sidecar). */
  hops: SimHop[];
  outcome: {
    /**
     * delivered: reached a destination workload or an external host; denied: an RBAC/JWT verdict;
     * refused: no listener/filter chain would accept it (e.g. plain text into STRICT mTLS);
     * no-route: 404/no cluster; blackhole: REGISTRY_ONLY blocked it; passthrough: left the mesh unmanaged;
     * aborted: a fault injection aborts every matching request (abort percentage 100; `status` is its code).
     */
    kind: "delivered" | "denied" | "refused" | "no-route" | "blackhole" | "passthrough" | "aborted";
    /** HTTP status the client would get, where one is decided by config (403, 404, 503, an abort's). */
    status?: number;
    /** Where it ended: "<namespace>/<workload>" or the external host. */
    destination?: string;
    detail?: string;
  };
  /**
   * Set when the helper could not evaluate this request (no JWKS for the issuer, a CUSTOM
   * authorizer, a matcher it does not know, an internal failure): `hops` and `outcome` then show
   * how far it got and must not be asserted as a verdict.
   */
  notEvaluable?: string;
  /** Set when the request left through an egress gateway towards a ServiceEntry host. */
  egress?: {
    /** The egress gateway workload, "<namespace>/<workload>". */
    gateway: string;
    /** The external host the gateway sends it to. */
    host: string;
    /** Whether the gateway originates TLS (a DestinationRule `tls.mode: SIMPLE` at the gateway). */
    tlsOriginated: boolean;
  };
}

/** An Istio object istiod's validation refuses; it is left out of the simulation. */
export interface SimConfigError {
  kind: string;
  namespace: string;
  name: string;
  /** What istiod would refuse or ignore, as its validation says it. */
  message: string;
}

/**
 * One patch of an EnvoyFilter, judged on the configuration Istio generates: each proxy the filter
 * attaches to gets its listeners, clusters or routes generated with and without this patch.
 */
export interface SimEnvoyFilterPatch {
  /** Index in spec.configPatches. */
  index: number;
  applyTo: string;
  /** match.context ("ANY" when absent). */
  context: string;
  /** It changed the generated configuration of at least one attached proxy. */
  applied: boolean;
  /** The proxies ("<namespace>/<workload>") whose configuration it changed. */
  appliedTo: string[];
  /** Why the helper cannot judge it (BOOTSTRAP, ECDS, a proxy version match): no verdict either way. */
  notEvaluated?: string;
  /** For a patch applied nowhere: what each attached proxy's configuration has in its context (ports, filter, cluster, route names). */
  contains?: string[];
}

export interface SimEnvoyFilter {
  namespace: string;
  name: string;
  /** Proxies ("<namespace>/<workload>") Istio attaches it to (selector/targetRefs, namespace, root namespace); empty: none. */
  proxies: string[];
  patches: SimEnvoyFilterPatch[];
}

export interface SimOutput {
  version: typeof SIM_PROTOCOL_VERSION;
  results: SimResult[];
  configErrors: SimConfigError[];
  /** When SimInput.envoyFilters asked: one entry per EnvoyFilter istiod accepts. */
  envoyFilters?: SimEnvoyFilter[];
}
