/** The rule registry: every semantic rule, plus the metadata of the findings other layers emit. */
import type { Rule, RuleMeta } from "../rule.ts";
import argocdChartPinned from "./argocd-chart-pinned.ts";
import argocdCrdWave from "./argocd-crd-wave.ts";
import argocdCrossAppOrder from "./argocd-cross-app-order.ts";
import argocdDestinationCluster from "./argocd-destination-cluster.ts";
import argocdNamespaceMetadataOrder from "./argocd-namespace-metadata-order.ts";
import argocdProjectPermits from "./argocd-project-permits.ts";
import argocdProjectResource from "./argocd-project-resource.ts";
import argocdResourceExcluded from "./argocd-resource-excluded.ts";
import argocdSourcePath from "./argocd-source-path.ts";
import argocdSyncOption from "./argocd-sync-option.ts";
import argocdSyncOptionConflict from "./argocd-sync-option-conflict.ts";
import authzDenyHttpOnly from "./authz-deny-http-only.ts";
import authzNamespaceNotFound from "./authz-namespace-not-found.ts";
import authzPrincipalNotFound from "./authz-principal-not-found.ts";
import authzWrongMethod from "./authz-wrong-method.ts";
import drDuplicateSubset from "./dr-duplicate-subset.ts";
import drHostNotFound from "./dr-host-not-found.ts";
import drMtlsConflict from "./dr-mtls-conflict.ts";
import drStickyWeightedSplit from "./dr-sticky-weighted-split.ts";
import drSubsetNoWorkload from "./dr-subset-no-workload.ts";
import drTlsNoCa from "./dr-tls-no-ca.ts";
import envoyfilterOperations from "./envoyfilter-operations.ts";
import envoyfilterTypedConfig from "./envoyfilter-typed-config.ts";
import gwCredentialNotFound from "./gw-credential-not-found.ts";
import gwDuplicateHostPort from "./gw-duplicate-host-port.ts";
import gwSelectorNoWorkload from "./gw-selector-no-workload.ts";
import gwTlsSettings from "./gw-tls-settings.ts";
import k8sApplicationUid from "./k8s-application-uid.ts";
import k8sDuplicateObject from "./k8s-duplicate-object.ts";
import k8sImageNotPublished from "./k8s-image-not-published.ts";
import k8sSecretCommitted from "./k8s-secret-committed.ts";
import k8sServiceAccount from "./k8s-service-account.ts";
import platformServiceNotFound from "./platform-service-not-found.ts";
import policySelectorNoWorkload from "./policy-selector-no-workload.ts";
import seAddressesRequired from "./se-addresses-required.ts";
import sidecarConflictingSelectors from "./sidecar-conflicting-selectors.ts";
import sidecarDuplicateEgressHost from "./sidecar-duplicate-egress-host.ts";
import sidecarEgressHost from "./sidecar-egress-host.ts";
import sidecarMultipleSelectorless from "./sidecar-multiple-selectorless.ts";
import svcPortProtocol from "./svc-port-protocol.ts";
import svcSelectorNoWorkload from "./svc-selector-no-workload.ts";
import svcTargetPort from "./svc-target-port.ts";
import telemetryEmptyProviders from "./telemetry-empty-providers.ts";
import telemetryConflicting from "./telemetry-multiple-selectorless.ts";
import vsConflictingMeshHosts from "./vs-conflicting-mesh-hosts.ts";
import vsDestinationHost from "./vs-destination-host.ts";
import vsDestinationPortRequired from "./vs-destination-port-required.ts";
import vsDuplicateMatch from "./vs-duplicate-match.ts";
import vsGatewayNotFound from "./vs-gateway-not-found.ts";
import vsGatewayDottedName from "./vs-gateway-dotted-name.ts";
import istioInjectionByDefault from "./istio-injection-by-default.ts";
import istioWebhookAddress from "./istio-webhook-address.ts";
import vsHostNotInGateway from "./vs-host-not-in-gateway.ts";
import vsInvalidRegex from "./vs-invalid-regex.ts";
import vsJwtClaimRouting from "./vs-jwt-claim-routing.ts";
import vsSubsetNotFound from "./vs-subset-not-found.ts";
import vsUnreachableRule from "./vs-unreachable-rule.ts";
import vsZeroWeight from "./vs-zero-weight.ts";
import svcMultipleProtocols from "./svc-multiple-protocols.ts";
import svcConflictingTargetPort from "./svc-conflicting-target-port.ts";
import svcExternalNamePort from "./svc-external-name-port.ts";
import svcMulticlusterInconsistent from "./svc-multicluster-inconsistent.ts";
import k8sMultipleInjectionLabels from "./k8s-multiple-injection-labels.ts";
import k8sImageAutoWithoutInjection from "./k8s-image-auto-without-injection.ts";
import k8sProbePort from "./k8s-probe-port.ts";
import k8sPdbBlocksEviction from "./k8s-pdb-blocks-eviction.ts";
import k8sRolloutStuck from "./k8s-rollout-stuck.ts";
import k8sNetworkPolicyMesh from "./k8s-network-policy-mesh.ts";
import seConflictingProtocol from "./se-conflicting-protocol.ts";
import seDuplicateHostPort from "./se-duplicate-host-port.ts";
import seDnsWildcard from "./se-dns-wildcard.ts";
import gwPortNotOnService from "./gw-port-not-on-service.ts";
import istioDeprecated from "./istio-deprecated.ts";
import sidecarRootSelector from "./sidecar-root-selector.ts";
import sidecarOutboundMode from "./sidecar-outbound-mode.ts";
import sidecarHidesDestination from "./sidecar-hides-destination.ts";
import vsSingleWeight from "./vs-route-destinations.ts";
import vsRepeatedSubset from "./vs-repeated-subset.ts";
import vsDestinationPortNotFound from "./vs-destination-port-not-found.ts";
import vsGatewayDestinationHidden from "./vs-gateway-destination-hidden.ts";
import vsGatewaySharedHost from "./vs-gateway-shared-host.ts";
import drSubsetNoLabels from "./dr-subset-no-labels.ts";
import authzRequestAuthMissing from "./authz-request-auth-missing.ts";
import authzJwtNotRequired from "./authz-jwt-not-required.ts";
import authzAnyRequestPrincipal from "./authz-any-request-principal.ts";
import authzAllowNothing from "./authz-allow-nothing.ts";
import authzMtlsRequired from "./authz-mtls-required.ts";
import authzHostNotFound from "./authz-host-not-found.ts";
import telemetryProviderNotFound from "./telemetry-provider-not-found.ts";
import envoyfilterMatchNothing from "./envoyfilter-match-nothing.ts";
import authzPortNotOnWorkload from "./authz-port-not-on-workload.ts";
import authzHttpOnTcpPort from "./authz-http-on-tcp-port.ts";
import authzJwksEgress from "./authz-jwks-egress.ts";
import envoyfilterRenamedFilter from "./envoyfilter-renamed-filter.ts";
import gwapiParentNotFound from "./gwapi-parent-not-found.ts";
import gwapiBackendNotFound from "./gwapi-backend-not-found.ts";
import gwapiGrantNamespace from "./gwapi-grant-namespace.ts";
import { workloadGroupDuplicateLabels, workloadGroupServiceAccount } from "./workloadgroup-rules.ts";
import istioAnnotation from "./istio-annotation.ts";
import istioInjectionWebhook from "./istio-injection-webhook.ts";
import authzForeignTrustDomain from "./authz-foreign-trust-domain.ts";
import gwapiCrdServedVersions from "./gwapi-crd-served-versions.ts";
import gwapiCrdBelowMinimum from "./gwapi-crd-below-minimum.ts";
import gwapiDuplicateListener from "./gwapi-duplicate-listener.ts";
import gwapiDuplicateAddress from "./gwapi-duplicate-address.ts";
import vsInternalGateway from "./vs-internal-gateway.ts";
import policyIneffectiveSelector from "./policy-ineffective-selector.ts";
import ambientSelectorPolicy from "./ambient-selector-policy.ts";
import ambientPolicyWithoutWaypoint from "./ambient-policy-without-waypoint.ts";
import ambientRouteNotCaptured from "./ambient-route-not-captured.ts";
import ambientRouteOtherNamespace from "./ambient-route-other-namespace.ts";
import ambientSidecarAndAmbient from "./ambient-sidecar-and-ambient.ts";
import ambientWaypointNotAmbient from "./ambient-waypoint-not-ambient.ts";
import ambientWaypointNotFound from "./ambient-waypoint-not-found.ts";
import ambientAuthzWithoutWaypoint from "./ambient-authz-without-waypoint.ts";
import ambientIneffectiveSidecar from "./ambient-ineffective-sidecar.ts";
import authzJwksFetchUnrestricted from "./authz-jwks-fetch-unrestricted.ts";
import vsGatewayRouteSkipsSubsets from "./vs-gateway-route-skips-subsets.ts";
import drMeshMtlsOverridden from "./dr-mesh-mtls-overridden.ts";
import istioMeshNetworksRegistry from "./istio-mesh-networks-registry.ts";

export const SEMANTIC_RULES: readonly Rule[] = [
  vsDestinationHost,
  vsSubsetNotFound,
  vsGatewayNotFound,
  vsGatewayDottedName,
  istioInjectionByDefault,
  istioWebhookAddress,
  vsHostNotInGateway,
  vsDestinationPortRequired,
  vsZeroWeight,
  vsInvalidRegex,
  vsUnreachableRule,
  vsDuplicateMatch,
  vsConflictingMeshHosts,
  vsJwtClaimRouting,
  vsSingleWeight,
  vsRepeatedSubset,
  vsDestinationPortNotFound,
  vsGatewayDestinationHidden,
  vsGatewaySharedHost,
  drHostNotFound,
  drSubsetNoWorkload,
  drDuplicateSubset,
  drTlsNoCa,
  drMtlsConflict,
  drStickyWeightedSplit,
  drSubsetNoLabels,
  gwSelectorNoWorkload,
  gwDuplicateHostPort,
  gwTlsSettings,
  gwCredentialNotFound,
  gwPortNotOnService,
  gwapiParentNotFound,
  gwapiBackendNotFound,
  gwapiGrantNamespace,
  seAddressesRequired,
  seConflictingProtocol,
  seDuplicateHostPort,
  seDnsWildcard,
  workloadGroupServiceAccount,
  workloadGroupDuplicateLabels,
  sidecarMultipleSelectorless,
  sidecarConflictingSelectors,
  sidecarEgressHost,
  sidecarDuplicateEgressHost,
  sidecarRootSelector,
  sidecarOutboundMode,
  sidecarHidesDestination,
  policySelectorNoWorkload,
  authzPrincipalNotFound,
  authzDenyHttpOnly,
  authzNamespaceNotFound,
  authzWrongMethod,
  authzRequestAuthMissing,
  authzJwtNotRequired,
  authzAnyRequestPrincipal,
  authzAllowNothing,
  authzMtlsRequired,
  authzHostNotFound,
  authzJwksEgress,
  authzForeignTrustDomain,
  authzHttpOnTcpPort,
  authzPortNotOnWorkload,
  telemetryEmptyProviders,
  telemetryConflicting,
  telemetryProviderNotFound,
  envoyfilterOperations,
  envoyfilterTypedConfig,
  envoyfilterMatchNothing,
  envoyfilterRenamedFilter,
  istioDeprecated,
  istioAnnotation,
  istioInjectionWebhook,
  svcSelectorNoWorkload,
  svcTargetPort,
  svcPortProtocol,
  svcMultipleProtocols,
  svcConflictingTargetPort,
  svcExternalNamePort,
  svcMulticlusterInconsistent,
  k8sServiceAccount,
  k8sDuplicateObject,
  k8sApplicationUid,
  k8sSecretCommitted,
  k8sImageNotPublished,
  k8sMultipleInjectionLabels,
  k8sImageAutoWithoutInjection,
  k8sProbePort,
  k8sPdbBlocksEviction,
  k8sRolloutStuck,
  k8sNetworkPolicyMesh,
  argocdSourcePath,
  argocdDestinationCluster,
  argocdProjectPermits,
  argocdProjectResource,
  argocdResourceExcluded,
  argocdCrdWave,
  argocdCrossAppOrder,
  argocdNamespaceMetadataOrder,
  argocdSyncOption,
  argocdSyncOptionConflict,
  argocdChartPinned,
  platformServiceNotFound,
  gwapiCrdServedVersions,
  gwapiCrdBelowMinimum,
  gwapiDuplicateListener,
  gwapiDuplicateAddress,
  vsInternalGateway,
  policyIneffectiveSelector,
  ambientSelectorPolicy,
  ambientPolicyWithoutWaypoint,
  ambientRouteNotCaptured,
  ambientRouteOtherNamespace,
  ambientSidecarAndAmbient,
  ambientWaypointNotAmbient,
  ambientWaypointNotFound,
  ambientAuthzWithoutWaypoint,
  ambientIneffectiveSidecar,
  authzJwksFetchUnrestricted,
  vsGatewayRouteSkipsSubsets,
  drMeshMtlsOverridden,
  istioMeshNetworksRegistry,
];

const meta = (m: RuleMeta): RuleMeta => m;

/** Findings of the YAML, schema, CEL and repository layers (not resource rules, but documented alike). */
export const LAYER_RULES: readonly RuleMeta[] = [
  meta({
    code: "yaml/syntax",
    layer: "yaml",
    severity: "error",
    anchors: [],
    title: "Files are valid YAML",
    description:
      "Every YAML file (manifests, cluster.yaml, chapter.yaml, helmfile.yaml, values files, workflows) must parse.",
    hint: "fix the YAML syntax at the reported position",
  }),
  meta({
    code: "yaml/duplicate-key",
    layer: "yaml",
    severity: "error",
    anchors: ["kubeconform"],
    title: "No mapping has the same key twice",
    description:
      "YAML keeps only the last of two equal keys and silently drops the other; Kubernetes would apply half of what you wrote.",
    hint: "remove one of the two keys",
  }),
  meta({
    code: "yaml/too-large",
    layer: "yaml",
    severity: "error",
    anchors: [],
    title: "Files stay under the size limit",
    description:
      "Files over the limit (8 MiB by default, `limits.maxBytes` in .validate.yaml) are refused before parsing.",
    hint: "split the file, or raise limits.maxBytes in .validate.yaml",
  }),
  meta({
    code: "yaml/alias-limit",
    layer: "yaml",
    severity: "error",
    anchors: [],
    title: "Alias expansion is bounded (no YAML bombs)",
    description:
      "A document that expands aliases beyond the limits (a 'billion laughs' file: more than `limits.maxAliasCount` alias dereferences, or more than `limits.maxExpandedBytes`, 32 MiB by default, of text once every alias is expanded, such as 99 aliases to one huge string) fails fast with this error instead of exhausting memory.",
    hint: "write the values out instead of nesting aliases",
  }),
  meta({
    code: "yaml/too-slow",
    layer: "yaml",
    severity: "error",
    anchors: [],
    title: "Files parse within the time budget",
    description:
      "A file whose parsing takes longer than the budget (10 s by default, `limits.maxParseMs` in .validate.yaml) stops being read at the next document, so that no file can hold the validation up for minutes.",
    hint: "split the file, or simplify it (deep nesting, many aliases)",
  }),
  meta({
    code: "yaml/unreadable",
    layer: "yaml",
    severity: "error",
    anchors: [],
    title: "Only regular files are read",
    description:
      "A `.yaml` entry that is not a regular file (a symlink to /dev/zero or another device, a FIFO, a socket, a symlink loop, a dangling symlink) is not read: reading it would never end, or crash.",
    hint: "keep only regular YAML files in the repository; remove the entry or replace the link by the file",
  }),
  meta({
    code: "yaml/not-a-resource",
    layer: "yaml",
    severity: "error",
    anchors: ["kubeconform"],
    title: "Manifest documents are Kubernetes objects",
    description:
      "In a file of manifests, every document needs string `apiVersion` and `kind`. A file in which no document looks like a Kubernetes object (a values file, say) is reported once as info and otherwise only syntax-checked.",
    hint: "add apiVersion and kind, or move the document out of the manifests",
  }),
  meta({
    code: "schema/invalid",
    layer: "schema",
    severity: "error",
    anchors: ["kubeconform", "IST0106"],
    title: "Resources match their JSON schema (kubeconform -strict)",
    description:
      "kubeconform validates every object against the Kubernetes or CRD JSON schema, strictly: unknown fields, wrong types and missing required fields are errors. Locations come from .validate.yaml (`schemaLocations`) or VALIDATE_SCHEMA_ROOT.",
    hint: "fix the field at the reported path (check its spelling and type against the API reference)",
  }),
  meta({
    code: "schema/missing",
    layer: "schema",
    severity: "error",
    anchors: ["kubeconform"],
    title: "Every kind has a schema",
    description:
      "No resource is silently skipped: a kind with no schema at the configured locations is an error unless listed in `skipKinds` of .validate.yaml.",
    hint: "add a schema location that has it (path mode: --remote-schemas looks kinds the pinned bundle lacks up online), fix apiVersion/kind, or list the kind under skipKinds with a reason",
  }),
  meta({
    code: "cel/rule",
    layer: "cel",
    severity: "error",
    anchors: ["CEL"],
    title: "CRD x-kubernetes-validations (CEL) rules hold",
    description:
      "The CEL rules of the CRDs (kept in the JSON schemas, or read from CRD YAML files in VALIDATE_CRD_DIR) are evaluated with the Kubernetes extension functions (url, isURL, getScheme, getHost, isIP, split, join, lowerAscii...). kubeconform ignores them; the API server would reject the object.",
    hint: "change the value so that the rule holds (the message is the CRD's own)",
  }),
  meta({
    code: "behaviour/expectation",
    layer: "behaviour",
    severity: "error",
    anchors: [],
    title: "Every promise of the lessons holds in Istio's own config generation",
    description:
      "Repo mode, every cluster x chapter: the requests of chapter.yaml `expect:` in force at that chapter (cumulative; a later chapter takes one back under `changes:` or `drops:` with a reason) go through the Envoy configuration istiod would generate for the render (Istio's pilot/test/xds and pilot/pkg/simulation, in the helper scripts/go/mesh-sim, with header, cookie, query and JWT-claim matching and an evaluator of the generated RBAC and JWT filters). Each field the expectation names (route, subset or weights, endpoints, fault, mirror, timeout, retries, hash policy, upstream TLS, allowed/denied and status, egress path) is compared; a difference is reported at that field's line in chapter.yaml, with the hop trace (listener, route, cluster, endpoints) as detail. It sees configuration only: traffic shares are the configured weights, not measured; circuit-breaker dynamics (pending overflow, ejections), rate limits, NetworkPolicy and the applications' own deadlines are out of its reach, and so are calls across clusters (one cluster per run).",
    hint: "fix the mesh configuration the lesson relies on, or change the expectation on purpose (in a later chapter: under expect.changes with a reason)",
  }),
  meta({
    code: "behaviour/config-error",
    layer: "behaviour",
    severity: "error",
    anchors: [],
    title: "istiod accepts every Istio resource of the render",
    description:
      "The simulation helper builds the proxies' configuration the way istiod does; a resource istiod would reject or ignore (its own validation) is reported at the resource.",
    hint: "fix the resource; istiod would reject or ignore it, so no proxy gets it",
  }),
  meta({
    code: "behaviour/helper",
    layer: "behaviour",
    severity: "error",
    anchors: [],
    title: "The mesh simulation helper is built and runs",
    description:
      "The behaviour layer needs the helper scripts/go/mesh-sim, built into the tool cache keyed by a hash of its sources (`pnpm tools mesh-sim`; MESH_SIM_BIN overrides). When it is not built, the layer reports this once, as a warning (an error when CI is set), instead of building it unannounced; when it fails for a scope, that is an error at the chapter.",
    hint: "run `pnpm tools mesh-sim` once, or set MESH_SIM_BIN to a built helper",
  }),
  meta({
    code: "behaviour/not-evaluable",
    layer: "behaviour",
    severity: "warning",
    anchors: [],
    title: "Every expectation can be evaluated offline",
    description:
      "The helper says when it cannot decide a request offline (an issuer without a JWKS, a source workload it does not know); the expectation is then reported as not checked, never as passed. When the platform render lacks Istio's own releases (no chart packages offline, or --no-platform), the gateways and istiod's mesh config are unknown: those cluster x chapter scopes are not simulated, and one warning says so.",
    hint: "declare the missing client under expect.clients, render the platform charts (`pnpm charts`, or CHART_MIRROR), or drop the expectation with a reason",
  }),
  meta({
    code: "cel/cost",
    layer: "cel",
    severity: "error",
    anchors: ["CEL"],
    title: "CEL rules stay within the API server's cost limits",
    description:
      "The Kubernetes CEL cost model, estimated from the schema's maxItems / maxLength / maxProperties: a rule over 10,000,000 (StaticEstimatedCostLimit) or a CRD version whose rules, each times how often it may run, total over 100,000,000 (StaticEstimatedCRDCostLimit) is refused by the API server when the CRD is installed; the finding is at the rule. At evaluation, a rule that would cost more than 1,000,000 on the actual value (PerCallLimit), or an object whose rules cost more than 10,000,000 (RuntimeCELCostBudget) or run past 5 s, is not evaluated further. `matches` uses RE2, as Kubernetes does, so no pattern backtracks.",
    hint: "bound what the rule walks with maxItems / maxLength / maxProperties, or simplify the rule",
  }),
  meta({
    code: "server/rejected",
    layer: "server",
    severity: "error",
    anchors: [],
    title: "The real API server accepts every object (server-side apply, strict)",
    description:
      "With `--server` (on in CI), a private etcd + kube-apiserver v1.36 on 127.0.0.1 gets every cluster's chapters in order, each server-side applied as Argo CD's ServerSideApply sync does (field manager argocd-controller, fieldValidation=Strict) on top of the previous chapter's state: namespaces, then the render's CRDs, then ValidatingAdmissionPolicies, then the rest, and what the chapter dropped is pruned. A refusal is reported at the field the server names: what only the real server checks (a selector that does not match the template's labels, RFC 1123 names, immutable fields a promotion changes such as a Job's template or a Deployment's selector, admission policies shipped with CRDs, unknown fields kubeconform's schemas let through).",
    hint: "fix the field the server names; for an immutable field a promotion changes, rename the object (or delete it in an earlier chapter) so Argo CD creates it anew",
  }),
  meta({
    code: "server/warning",
    layer: "server",
    severity: "info",
    anchors: [],
    title: "API server warnings on apply",
    description:
      "Warnings the API server returns with an accepted apply (deprecated APIs, fields it ignores), as infos at the field they name.",
    hint: "follow the server's advice (usually a newer API version or field)",
  }),
  meta({
    code: "server/pruned",
    layer: "server",
    severity: "info",
    anchors: [],
    title: "What a promotion deletes",
    description:
      "`pnpm promote` (server layer on): objects the cluster's current chapter has and the target chapter does not, which Argo CD deletes when it syncs the promotion (where the Application prunes). Reported at the object's file in the current render, so a reviewer sees the deletions before the pull request.",
    hint: "nothing to do if the chapter drops it on purpose; otherwise keep the object in the target chapter",
  }),
  meta({
    code: "server/not-served",
    layer: "server",
    severity: "warning",
    anchors: [],
    title: "Every kind is served by the API server",
    description:
      "A kind the API server does not serve after the render's CRDs (and those of VALIDATE_CRD_DIR for kinds the render has no CRD of) are applied: Argo CD would fail the sync with 'the server could not find the requested resource'.",
    hint: "add the chart or CRD that defines the kind in an earlier sync wave, or fix apiVersion/kind",
  }),
  meta({
    code: "charts/lock",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "Every upstream chart is locked to the digest of its files",
    description:
      "charts.lock.yaml pins every upstream chart of helmfile.yaml (repository, chart, version) to the sha256 of the files in its package. A release whose chart is not locked, or a lock entry no release uses, is reported at its line; `pnpm charts` refuses a package whose files do not match.",
    hint: "run `pnpm charts --lock` after changing a chart version, review the diff and commit it",
  }),
  meta({
    code: "charts/not-validated",
    layer: "repo",
    severity: "warning",
    anchors: [],
    title: "Every platform chart could be rendered and validated",
    description:
      "Repo mode renders every enabled upstream chart from its locked package, found in the chart cache (~/.cache/istio-gitops/charts, filled by `pnpm charts`) or an offline mirror (CHART_MIRROR or `chartMirror:` in .validate.yaml). A chart that cannot be had offline is one warning at its release, and its namespace is treated as opaque (its content unknown) by the other rules.",
    hint: "run `pnpm charts` once online, or set CHART_MIRROR to an offline chart mirror",
  }),
  meta({
    code: "render/unstable-output",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "Platform charts render the same output twice",
    description:
      "Each platform chart is rendered twice with the same values; an object whose content differs (randAlphaNum passwords and keys, genCA certificates, `lookup`, which Argo CD's repo server answers with nothing) would be OutOfSync forever and rewritten on every sync, restarting what mounts it. The hint names the value that pins the output where the chart is known.",
    hint: "set the value that the chart would otherwise generate, in the chapter that enables the release",
  }),
  meta({
    code: "render/helm-template",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "Every chart renders with the composed values",
    description:
      "`helm template` of the demo app chart and of every platform chart (locked package, composed values, the cluster's Kubernetes version) must succeed; a failure is reported at the release in helmfile.yaml with helm's message.",
    hint: "fix the values the chapters give the release",
  }),
  meta({
    code: "validate/suppression",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "Suppressions give a reason",
    description:
      'A finding is suppressed by the annotation `validate.istio-gitops.dev/ignore: "<rule>: <reason>"` on the resource (one entry per line; `area/*` matches an area), or by an entry of `suppressions:` in .validate.yaml (rule, file glob and/or resource `Kind/ns/name`, reason). An entry without a reason is not applied and is itself an error.',
    hint: "write the reason after the rule code",
  }),
  meta({
    code: "validate/internal",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "The validator itself does not fail",
    description:
      "A rule that throws is a bug in the validator, not a finding about the manifests: it is reported under this code (never suppressible, whatever the configuration says) and `pnpm validate` exits 2.",
    hint: "this is a bug in the validator; please report it with the message",
  }),
  meta({
    code: "repo/chapter-graph",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "Chapters are numbered without gaps or repeats",
    description:
      "Reported by the repository model: chapter folders NN-slug with chapter.yaml, numbered 00, 01, 02...",
    hint: "number chapters without gaps",
  }),
  meta({
    code: "repo/chapter-pin",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "Clusters pin an existing chapter",
    description: "Reported by the repository model: cluster.yaml `chapter:` names a chapter folder.",
    hint: "pin an existing chapter",
  }),
  meta({
    code: "repo/remote-ahead",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "A remote cluster is never ahead of its primary",
    description:
      "Reported by the repository model: a remote cluster runs on its primary's control plane, so it cannot be at a later chapter.",
    hint: "promote the primary first",
  }),
  meta({
    code: "repo/rendered-stale",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "Committed rendered output is fresh",
    description:
      "clusters/<name>/rendered/ must be exactly what `pnpm render` produces for the pinned chapter; Argo CD applies the committed files, not the sources. One exception is a warning instead: a verified rollback, whose HEAD commit carries `Mesh-Restored-From: <tag>` for the cluster and whose rendered files hash to that tag's recorded rendered-sha256 (the output was restored on purpose; the warning names the files whose sources moved on).",
    hint: "run `pnpm render` and commit the result (after a rollback: fix the sources the warning names, then render)",
  }),
  meta({
    code: "repo/model",
    layer: "repo",
    severity: "error",
    anchors: [],
    title: "cluster.yaml, chapter.yaml and helmfile.yaml are valid; chapters compose",
    description:
      "Findings of the repository model and of composition (codes `model/*`, `compose/*`, `repo/remote-primary`) are reported as they are: schema errors of the repository's own files, unpinned chart versions in helmfile.yaml, patches that do not apply.",
    hint: "see the finding's own hint",
  }),
];

export function allRuleMetas(): RuleMeta[] {
  return [...LAYER_RULES, ...SEMANTIC_RULES].map(
    ({ code, layer, severity, anchors, title, description, hint }) => ({
      code,
      layer,
      severity,
      anchors,
      title,
      description,
      hint,
    }),
  );
}
