/**
 * Kinds that have no namespace. Rendering uses it to give namespaced chart objects the release
 * namespace; validation uses it to index objects. One list, so the two never disagree.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  "Namespace",
  "Node",
  "PersistentVolume",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PriorityClass",
  "StorageClass",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "IngressClass",
  "ClusterIssuer",
  "APIService",
  "RuntimeClass",
  "CSIDriver",
  "GatewayClass",
]);
