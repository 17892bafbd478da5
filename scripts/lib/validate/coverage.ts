/**
 * Every code of the peers (istioctl analyze's IST codes, Kiali's KIA codes) and what we do about
 * it: the rules that anchor it (taken from the registry, never written here) or, for a code no
 * rule anchors, why. The coverage table in README.md is generated from this list and the registry,
 * and test/validate/rules-doc.test.ts fails when the table is stale, when a code of the reference
 * tables (../shared/reference) is missing here, or when a code has both a rule and a reason.
 *
 * Reasons say what the code needs that manifests cannot give (a live cluster, a running proxy,
 * istiod's state), or that it is not implemented and what deciding it would take.
 */
import type { RuleMeta } from "./rule.ts";

/** Why a code has no rule: [name as the peer spells it, reason ("" when a rule anchors it)]. */
export const PEER_CODES: Readonly<Record<string, readonly [string, string]>> = {
  IST0001: [
    "InternalError",
    "a fault of istioctl itself; ours is `validate/internal`, which is not a finding about manifests",
  ],
  IST0002: ["Deprecated", ""],
  IST0101: ["ReferencedResourceNotFound", ""],
  IST0102: [
    "NamespaceNotInjected",
    "deliberately not reported: istioctl's info on every namespace without an injection label says nothing wrong (argocd, cert-manager and monitoring stay outside the mesh on purpose, and the demo namespace is labelled only from the chapter that installs Istio); the case that breaks pods, `image: auto` without injection, is `k8s/image-auto-without-injection`",
  ],
  IST0103: ["PodMissingProxy", "needs running pods (a pod created before injection was enabled)"],
  IST0106: ["SchemaValidationError", ""],
  IST0107: ["MisplacedAnnotation", ""],
  IST0108: ["UnknownAnnotation", ""],
  IST0109: ["ConflictingMeshGatewayVirtualServiceHosts", ""],
  IST0110: ["ConflictingSidecarWorkloadSelectors", ""],
  IST0111: ["MultipleSidecarsWithoutWorkloadSelectors", ""],
  IST0112: ["VirtualServiceDestinationPortSelectorRequired", ""],
  IST0116: ["DeploymentAssociatedToMultipleServices", ""],
  IST0118: ["PortNameIsNotUnderNamingConvention", ""],
  IST0123: ["NamespaceMultipleInjectionLabels", ""],
  IST0125: ["InvalidAnnotation", ""],
  IST0126: ["UnknownMeshNetworksServiceRegistry", ""],
  IST0127: ["NoMatchingWorkloadsFound", ""],
  IST0128: ["NoServerCertificateVerificationDestinationLevel", ""],
  IST0129: ["NoServerCertificateVerificationPortLevel", ""],
  IST0130: ["VirtualServiceUnreachableRule", ""],
  IST0131: ["VirtualServiceIneffectiveMatch", ""],
  IST0132: ["VirtualServiceHostNotFoundInGateway", ""],
  IST0133: ["SchemaWarning", ""],
  IST0134: ["ServiceEntryAddressesRequired", ""],
  IST0135: ["DeprecatedAnnotation", ""],
  IST0136: [
    "AlphaAnnotation",
    "an info on maturity (every `networking.istio.io/exportTo` on a Service is Alpha) that says nothing wrong about the manifests",
  ],
  IST0137: ["DeploymentConflictingPorts", ""],
  IST0138: [
    "GatewayDuplicateCertificate",
    "compares the certificate bytes of Secrets, which are never committed (cert-manager issues them on the cluster)",
  ],
  IST0139: ["InvalidWebhook", ""],
  IST0140: ["IngressRouteRulesNotAffected", ""],
  IST0141: [
    "InsufficientPermissions",
    "about the installing user's RBAC on a live cluster (istioctl precheck)",
  ],
  IST0142: ["UnsupportedKubernetesVersion", "asks the live API server for its version"],
  IST0143: ["LocalhostListener", "needs the listening sockets of running pods"],
  IST0144: ["InvalidApplicationUID", ""],
  IST0145: ["ConflictingGateways", ""],
  IST0146: ["ImageAutoWithoutInjectionWarning", ""],
  IST0147: ["ImageAutoWithoutInjectionError", ""],
  IST0148: ["NamespaceInjectionEnabledByDefault", ""],
  IST0149: ["JwtClaimBasedRoutingWithoutRequestAuthN", ""],
  IST0150: ["ExternalNameServiceTypeInvalidPortName", ""],
  IST0151: ["EnvoyFilterUsesRelativeOperation", ""],
  IST0152: ["EnvoyFilterUsesReplaceOperationIncorrectly", ""],
  IST0153: ["EnvoyFilterUsesAddOperationIncorrectly", ""],
  IST0154: ["EnvoyFilterUsesRemoveOperationIncorrectly", ""],
  IST0155: ["EnvoyFilterUsesRelativeOperationWithProxyVersion", ""],
  IST0156: ["UnsupportedGatewayAPIVersion", ""],
  IST0157: ["InvalidTelemetryProvider", ""],
  IST0158: ["PodsIstioProxyImageMismatchInNamespace", "needs running pods' proxy images"],
  IST0159: ["ConflictingTelemetryWorkloadSelectors", ""],
  IST0160: ["MultipleTelemetriesWithoutWorkloadSelectors", ""],
  IST0161: [
    "InvalidGatewayCredential",
    "checks the certificate inside the Secret, which is never committed; that the Secret or Certificate exists is `gw/credential-not-found` (IST0101)",
  ],
  IST0162: ["GatewayPortNotDefinedOnService", ""],
  IST0163: ["InvalidExternalControlPlaneConfig", ""],
  IST0164: ["ExternalControlPlaneAddressIsNotAHostname", ""],
  IST0165: ["ReferencedInternalGateway", ""],
  IST0166: ["IneffectiveSelector", ""],
  IST0167: ["IneffectivePolicy", ""],
  IST0168: ["UnknownUpgradeCompatibility", "compares with a live installation during `istioctl upgrade`"],
  IST0169: ["UpdateIncompatibility", "compares with a live installation during `istioctl upgrade`"],
  IST0170: ["MultiClusterInconsistentService", ""],
  IST0171: ["NegativeConditionStatus", "reads `status.conditions`, which only a live cluster fills in"],
  IST0172: ["FutureUnsupportedGatewayAPIVersion", ""],
  IST0173: ["DestinationRuleSubsetNotSelectPods", ""],
  IST0174: ["UnknownDestinationRuleHost", ""],
  IST0175: ["JwksUriFetchUnrestricted", ""],
  IST0176: ["GatewayAPICRDVersionBelowMinimum", ""],
  IST0177: ["ConflictingServiceEntryProtocol", ""],
  KIA0002: ["generic.multimatch.selectorless", ""],
  KIA0003: ["generic.multimatch.selector", ""],
  KIA0004: ["generic.selector.workloadnotfound", ""],
  KIA0005: ["generic.exportto.namespacenotfound", ""],
  KIA0101: ["authorizationpolicy.source.namespacenotfound", ""],
  KIA0102: ["authorizationpolicy.to.wrongmethod", ""],
  KIA0104: ["authorizationpolicy.nodest.matchingregistry", ""],
  KIA0105: ["authorizationpolicy.mtls.needstobeenabled", ""],
  KIA0106: ["authorizationpolicy.source.principalnotfound", ""],
  KIA0107: [
    "authorizationpolicy.source.principalremote",
    "Kiali's info that a principal's service account is on another cluster; clusters of one mesh share their service accounts here, so `authz/principal-not-found` finds it",
  ],
  KIA0108: ["authorizationpolicy.source.principalforeign", ""],
  KIA0109: ["authorizationpolicy.ambient.l7nowaypoint", ""],
  KIA0110: ["authorizationpolicy.ambient.l7notargetrefs", ""],
  KIA0201: ["destinationrules.multimatch", ""],
  KIA0202: ["destinationrules.nodest.matchingregistry", ""],
  KIA0203: ["destinationrules.nodest.subsetlabels", ""],
  KIA0204: ["destinationrules.trafficpolicy.notlssettings", ""],
  KIA0205: [
    "destinationrules.mtls.meshpolicymissing",
    "deprecated by auto mTLS: Kiali's pre-auto-mTLS pairing of DestinationRules with PeerAuthentications; the real conflict (ISTIO_MUTUAL against DISABLE) is `dr/mtls-conflict`",
  ],
  KIA0206: ["destinationrules.mtls.nspolicymissing", "deprecated by auto mTLS (see KIA0205)"],
  KIA0207: ["destinationrules.mtls.policymtlsenabled", ""],
  KIA0208: ["destinationrules.mtls.meshpolicymtlsenabled", ""],
  KIA0209: ["destinationrules.nodest.subsetnolabels", ""],
  KIA0210: ["destinationrule.ambient.l7nowaypoint", ""],
  KIA0211: ["destinationrule.ambient.servicenotcaptured", ""],
  KIA0212: ["destinationrule.ambient.notinservicenamespace", ""],
  KIA0301: ["gateways.multimatch", ""],
  KIA0302: ["gateways.selector", ""],
  KIA0401: [
    "peerauthentication.mtls.destinationrulemissing",
    "deprecated by auto mTLS: a STRICT PeerAuthentication needs no DestinationRule since Istio 1.5 (see KIA0205)",
  ],
  KIA0501: ["peerauthentications.mtls.destinationrulemissing", "deprecated by auto mTLS (see KIA0401)"],
  KIA0505: [
    "peerauthentications.mtls.disabledestinationrulemissing",
    "deprecated by auto mTLS (see KIA0401)",
  ],
  KIA0506: [
    "peerauthentications.mtls.disablemeshdestinationrulemissing",
    "deprecated by auto mTLS (see KIA0401)",
  ],
  KIA0601: ["port.name.mismatch", ""],
  KIA0602: ["port.appprotocol.mismatch", ""],
  KIA0701: ["service.deployment.port.mismatch", ""],
  KIA1004: ["sidecar.egress.servicenotfound", ""],
  KIA1006: ["sidecar.global.selector", ""],
  KIA1007: ["sidecar.outboundtrafficpolicy.mode.ambiguous", ""],
  KIA1101: ["virtualservices.nohost.hostnotfound", ""],
  KIA1102: ["virtualservices.nogateway", ""],
  KIA1104: ["virtualservices.route.singleweight", ""],
  KIA1105: ["virtualservices.route.repeatedsubset", ""],
  KIA1106: ["virtualservices.singlehost", ""],
  KIA1107: ["virtualservices.subsetpresent.subsetnotfound", ""],
  KIA1108: ["virtualservices.gateway.oldnomenclature", ""],
  KIA1109: ["virtualservice.ambient.l7nowaypoint", ""],
  KIA1110: ["requestauthentication.ambient.l7nowaypoint", ""],
  KIA1111: ["wasmplugin.ambient.l7nowaypoint", ""],
  KIA1112: ["telemetry.ambient.l7nowaypoint", ""],
  KIA1113: ["virtualservice.ambient.servicenotcaptured", ""],
  KIA1114: ["virtualservice.ambient.notinservicenamespace", ""],
  KIA1115: ["requestauthentication.ambient.l7notargetrefs", ""],
  KIA1116: ["wasmplugin.ambient.l7notargetrefs", ""],
  KIA1117: ["telemetry.ambient.l7notargetrefs", ""],
  KIA1211: ["serviceentries.multimatch", ""],
  KIA1212: ["serviceentries.port.protocol.conflict", ""],
  KIA1301: [
    "workload.authorizationpolicy.needstobecovered",
    "a policy choice, off by default in Kiali: whether every workload must have an AuthorizationPolicy",
  ],
  KIA1311: ["workload.ambient.sidecarandlabel", ""],
  KIA1312: ["workload.ambient.waypointandnotambient", ""],
  KIA1313: ["workload.ambient.waypointnotfound", ""],
  KIA1314: [
    "workload.ambient.podsidecarlabelandambientredirection",
    "needs running pods' annotations (Ambient mode)",
  ],
  KIA1315: [
    "workload.ambient.podsidecarinjectandambientlabel",
    "needs running pods' containers (Ambient mode)",
  ],
  KIA1316: ["workload.ambient.sidecarinambientnamespace", ""],
  KIA1317: ["workload.ambient.authpolicybutnowaypoint", ""],
  KIA1401: ["k8sroutes.nok8sgateway", ""],
  KIA1402: ["k8sroutes.nohost.namenotfound", ""],
  KIA1501: ["k8sgateways.multimatch.listener", ""],
  KIA1502: ["k8sgateways.multimatch.ip", ""],
  KIA1503: [
    "k8sgateways.unique.listener",
    "the Gateway API CRDs' own CEL rules check listener uniqueness (`cel/rule`)",
  ],
  KIA1504: ["k8sgateways.gatewayclassnotfound", "about Kiali's own configuration of gateway classes"],
  KIA1601: ["k8sreferencegrants.from.namespacenotfound", ""],
  KIA1701: ["workloadgroup.template.serviceaccount.notfound", ""],
  KIA1702: ["workloadgroup.labels.duplicate", ""],
};

export interface CoverageRow {
  code: string;
  name: string;
  rules: string[];
  reason: string;
}

/** One row per peer code, in code order: the rules anchoring it, or the reason there is none. */
export function coverageRows(rules: readonly RuleMeta[]): CoverageRow[] {
  return Object.entries(PEER_CODES)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, [name, reason]]) => ({
      code,
      name,
      rules: rules.filter((r) => r.anchors.includes(code)).map((r) => r.code),
      reason,
    }));
}

export const COVERAGE_BEGIN = "<!-- coverage:begin (generated from coverage.ts and the rule registry) -->";
export const COVERAGE_END = "<!-- coverage:end -->";

/** The table, between its markers, for README.md. */
export function renderCoverage(rules: readonly RuleMeta[]): string {
  const rows = coverageRows(rules);
  const covered = rows.filter((r) => r.rules.length);
  const count = (p: string) => rows.filter((r) => r.code.startsWith(p)).length;
  const coveredOf = (p: string) => covered.filter((r) => r.code.startsWith(p)).length;
  return [
    COVERAGE_BEGIN,
    "",
    `${coveredOf("IST")} of istioctl analyze's ${count("IST")} codes and ${coveredOf("KIA")} of Kiali's ${count("KIA")} validation codes are anchored by a rule; every other code says why not.`,
    "",
    "| code | name | rule | or why not |",
    "| --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.code} | ${r.name} | ${r.rules.map((c) => `[\`${c}\`](RULES.md#${c.toLowerCase().replace(/[^a-z0-9 -]/g, "")})`).join(", ") || "-"} | ${r.rules.length ? "" : r.reason} |`,
    ),
    "",
    COVERAGE_END,
  ].join("\n");
}

/** README.md with its coverage section replaced (the markers must be there). */
export function withCoverage(readme: string, table: string): string {
  const a = readme.indexOf(COVERAGE_BEGIN);
  const b = readme.indexOf(COVERAGE_END);
  if (a < 0 || b < a)
    throw new Error(`README.md: the markers ${COVERAGE_BEGIN} ... ${COVERAGE_END} are missing`);
  return readme.slice(0, a) + table + readme.slice(b + COVERAGE_END.length);
}
