import type { Env } from "./config.ts";

/** A peer service this service calls, located by an ISTIO_SVC_<NAME> variable. */
export interface Peer {
  readonly name: string;
  readonly url: string;
}

const PREFIX = "ISTIO_SVC_";

/** ISTIO_SVC_CONTENT_GENERATOR -> "content-generator". */
export function peerNameFromVariable(variable: string): string {
  return variable.slice(PREFIX.length).toLowerCase().replaceAll("_", "-");
}

export function peerVariableName(peer: string): string {
  return PREFIX + peer.toUpperCase().replaceAll("-", "_");
}

/**
 * The peers a service needs, each from its ISTIO_SVC_<NAME> variable or, when unset, the in-cluster
 * default `http://<name>` (the Kubernetes Service of the same namespace).
 */
export function resolvePeers(env: Env, names: readonly string[]): Record<string, Peer> {
  const peers: Record<string, Peer> = {};
  for (const name of names) {
    const raw = env[peerVariableName(name)];
    const url = (raw === undefined || raw === "" ? `http://${name}` : raw).replace(/\/+$/, "");
    peers[name] = { name, url };
  }
  return peers;
}
