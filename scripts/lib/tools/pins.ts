/**
 * The one place external tools are pinned. Bump a version here and every script, test and CI
 * job uses it; the tool cache keys binaries by tool and version, so old and new live side by side.
 */
export type ToolName =
  "helm" | "helmfile" | "kubeconform" | "istioctl" | "actionlint" | "kube-apiserver" | "etcd" | "mesh-sim";

export interface Download {
  url: string;
  /** sha256 of the archive; downloads without a pinned checksum are refused. */
  sha256?: string;
}

export interface ToolPin {
  name: ToolName;
  /** The version users see (`istioctl version` prints 1.30.3, not the Go pseudo-version). */
  version: string;
  /**
   * Go package to `go install`, and the module version to install it at. With `goSource`, the
   * package to `go build` inside that module ("." for its own main), and the upstream version the
   * module requires (kept in step with its go.mod by a test).
   */
  goPackage: string;
  goVersion: string;
  /**
   * A Go module in this repository (repo-relative folder with its own go.mod, go.sum and main) the
   * tool is built from, for tools no `go install` line can build: a main the upstream module does
   * not publish (etcd), a wrapper whose replace lines are too many to pin here (kube-apiserver),
   * or a helper of our own. Its cache entry is keyed by `version` plus a hash of the folder's
   * files, so editing the source rebuilds instead of reusing a stale binary.
   */
  goSource?: string;
  /**
   * `replace` directives for a wrapper module the tool is built from: the ones the tool's own
   * go.mod carries (`go install pkg@version` refuses modules with replace lines), or substitutes
   * for dependency versions the Go module proxy will not serve (istioctl).
   */
  goReplace?: string[];
  /** Extra `-ldflags` so the built binary reports its real version. */
  ldflags?: string;
  /**
   * Other versions accepted from PATH or `<TOOL>_BIN`-less lookups: the same analyzer line (an
   * official istioctl 1.30.x when the pin is a release-1.30 commit).
   */
  compatibleVersions?: RegExp;
  /** Arguments that print the version, and a pattern that finds it in the output. */
  versionArgs: string[];
  versionPattern: RegExp;
  /** Release archives for people without Go, keyed `os-arch` (linux-amd64, darwin-arm64, ...). */
  downloads: Record<string, Download>;
  /** Path of the binary inside the release archive. */
  archiveBinary: (platform: string) => string;
}

export const TOOL_PINS: Record<ToolName, ToolPin> = {
  helm: {
    name: "helm",
    // v4.3.0 rather than v4.3.1: its release checksums could be verified (v4.3.1 is too new for any
    // published pin we could check), so people without Go get a verified download.
    version: "v4.3.0",
    goPackage: "helm.sh/helm/v4/cmd/helm",
    goVersion: "v4.3.0",
    ldflags: "-X helm.sh/helm/v4/internal/version.version=v4.3.0",
    versionArgs: ["version", "--short"],
    versionPattern: /v\d+\.\d+\.\d+/,
    downloads: {
      "linux-amd64": {
        url: "https://get.helm.sh/helm-v4.3.0-linux-amd64.tar.gz",
        sha256: "86584a54def73570558f66f5111cc53dfed56689637ae32c1201205d494f54fb",
      },
      "linux-arm64": {
        url: "https://get.helm.sh/helm-v4.3.0-linux-arm64.tar.gz",
        sha256: "31c5794dd55c66a51e6b7d2e2ac7a114ae8b1de41ff1d9ba51748ac973b06a08",
      },
      "darwin-amd64": { url: "https://get.helm.sh/helm-v4.3.0-darwin-amd64.tar.gz" },
      "darwin-arm64": {
        url: "https://get.helm.sh/helm-v4.3.0-darwin-arm64.tar.gz",
        sha256: "d3870437e1e95b67f8edbde964156c84a26503f560821d40c542441658934fba",
      },
    },
    archiveBinary: (platform) => `${platform}/helm`,
  },
  helmfile: {
    name: "helmfile",
    // v1.4.4 (the newest without replace lines) does not build here: the Go proxy refuses its
    // github.com/helmfile/vals v0.43.8 dependency. v1.8.0 builds through a wrapper module.
    version: "v1.8.0",
    goPackage: "github.com/helmfile/helmfile",
    goVersion: "v1.8.0",
    goReplace: [
      "k8s.io/api => k8s.io/api v0.35.4",
      "k8s.io/apimachinery => k8s.io/apimachinery v0.36.0",
      "k8s.io/client-go => k8s.io/client-go v0.35.4",
    ],
    versionArgs: ["version", "-o", "short"],
    versionPattern: /v?\d+\.\d+\.\d+/,
    downloads: {
      "linux-amd64": {
        url: "https://github.com/helmfile/helmfile/releases/download/v1.8.0/helmfile_1.8.0_linux_amd64.tar.gz",
      },
      "linux-arm64": {
        url: "https://github.com/helmfile/helmfile/releases/download/v1.8.0/helmfile_1.8.0_linux_arm64.tar.gz",
      },
      "darwin-amd64": {
        url: "https://github.com/helmfile/helmfile/releases/download/v1.8.0/helmfile_1.8.0_darwin_amd64.tar.gz",
      },
      "darwin-arm64": {
        url: "https://github.com/helmfile/helmfile/releases/download/v1.8.0/helmfile_1.8.0_darwin_arm64.tar.gz",
      },
    },
    archiveBinary: () => "helmfile",
  },
  kubeconform: {
    name: "kubeconform",
    version: "v0.8.0",
    goPackage: "github.com/yannh/kubeconform/cmd/kubeconform",
    goVersion: "v0.8.0",
    ldflags: "-X main.version=v0.8.0",
    versionArgs: ["-v"],
    versionPattern: /v?\d+\.\d+\.\d+/,
    downloads: {
      "linux-amd64": {
        url: "https://github.com/yannh/kubeconform/releases/download/v0.8.0/kubeconform-linux-amd64.tar.gz",
        sha256: "9bc2bffbf71f261128533edaf912153948b7ff238f9a531ae6d34466ec287883",
      },
      "linux-arm64": {
        url: "https://github.com/yannh/kubeconform/releases/download/v0.8.0/kubeconform-linux-arm64.tar.gz",
        sha256: "1f53fc8e81258197a35e8603054162a5af1de8c5af13746c71ab680d9534ed87",
      },
      "darwin-amd64": {
        url: "https://github.com/yannh/kubeconform/releases/download/v0.8.0/kubeconform-darwin-amd64.tar.gz",
        sha256: "71dbc87ac9f24099a62b93570e65aa06312ba6ac8aea63b7f86e9d999edf5a92",
      },
      "darwin-arm64": {
        url: "https://github.com/yannh/kubeconform/releases/download/v0.8.0/kubeconform-darwin-arm64.tar.gz",
        sha256: "f84f4dfbebf4a6b0b230385fa065a39ea35e02608c2b50d025dcf64775a69d67",
      },
    },
    archiveBinary: () => "kubeconform",
  },
  istioctl: {
    name: "istioctl",
    // istio.io/istio has no semver tags, so `go install` needs a pseudo-version, and the Go module
    // proxy serves only some of them: the 1.30.3 tag's commit is refused (403). The newest
    // release-1.30 commit it serves is 9739e10eb9d7 (2026-08-26, VERSION file "1.30"): 1.30.3 plus
    // the branch's backported fixes. Its go.mod points at API and envoy commits the proxy also
    // refuses, so the wrapper replaces them with the nearest versions it serves (the 1.30.3 API tags,
    // and a later go-control-plane commit on the same line). The binary says what it is:
    // `istioctl version` prints 1.30-9739e10eb9d7, not a release number it is not.
    version: "1.30-9739e10eb9d7",
    compatibleVersions: /^1\.30\.\d+$/,
    goPackage: "istio.io/istio/istioctl/cmd/istioctl",
    goVersion: "v0.0.0-20260826214018-9739e10eb9d7",
    goReplace: [
      "istio.io/api => istio.io/api v1.30.3",
      "istio.io/client-go => istio.io/client-go v1.30.3",
      "github.com/envoyproxy/go-control-plane/envoy => github.com/envoyproxy/go-control-plane/envoy v1.37.1-0.20260729145720-a2d8c7492908",
      "github.com/envoyproxy/go-control-plane/contrib => github.com/envoyproxy/go-control-plane/contrib v1.36.1-0.20260729145720-a2d8c7492908",
    ],
    ldflags:
      "-X istio.io/istio/pkg/version.buildVersion=1.30-9739e10eb9d7 -X istio.io/istio/pkg/version.buildGitRevision=9739e10eb9d7 -X istio.io/istio/pkg/version.buildStatus=Clean",
    versionArgs: ["version", "--remote=false", "--short"],
    versionPattern: /\d+\.\d+(?:\.\d+|-[0-9a-f]{12})/,
    // The official release archives are for 1.30.x release numbers, not this commit, and no checksum
    // of them could be verified: without Go, put an istioctl 1.30.x on PATH (see compatibleVersions).
    downloads: {},
    archiveBinary: () => "istioctl",
  },
  actionlint: {
    name: "actionlint",
    version: "v1.7.12",
    goPackage: "github.com/rhysd/actionlint/cmd/actionlint",
    goVersion: "v1.7.12",
    versionArgs: ["-version"],
    versionPattern: /v?\d+\.\d+\.\d+/,
    downloads: {
      "linux-amd64": {
        url: "https://github.com/rhysd/actionlint/releases/download/v1.7.12/actionlint_1.7.12_linux_amd64.tar.gz",
        sha256: "8aca8db96f1b94770f1b0d72b6dddcb1ebb8123cb3712530b08cc387b349a3d8",
      },
      "linux-arm64": {
        url: "https://github.com/rhysd/actionlint/releases/download/v1.7.12/actionlint_1.7.12_linux_arm64.tar.gz",
        sha256: "325e971b6ba9bfa504672e29be93c24981eeb1c07576d730e9f7c8805afff0c6",
      },
      "darwin-amd64": {
        url: "https://github.com/rhysd/actionlint/releases/download/v1.7.12/actionlint_1.7.12_darwin_amd64.tar.gz",
        sha256: "5b44c3bc2255115c9b69e30efc0fecdf498fdb63c5d58e17084fd5f16324c644",
      },
      "darwin-arm64": {
        url: "https://github.com/rhysd/actionlint/releases/download/v1.7.12/actionlint_1.7.12_darwin_arm64.tar.gz",
        sha256: "aba9ced2dee8d27fecca3dc7feb1a7f9a52caefa1eb46f3271ea66b6e0e6953f",
      },
    },
    archiveBinary: () => "actionlint",
  },
  "kube-apiserver": {
    name: "kube-apiserver",
    // The real API server for the `server` layer of validate (server-side apply dry-runs).
    // k8s.io/kubernetes points its 33 staging modules at ./staging, so `go install` refuses it; the
    // wrapper module in scripts/go/kube-apiserver replaces each with the published v0.36.3 module.
    version: "v1.36.3",
    compatibleVersions: /^1\.36\.\d+$/,
    goSource: "scripts/go/kube-apiserver",
    goPackage: "k8s.io/kubernetes/cmd/kube-apiserver",
    goVersion: "v1.36.3",
    // What kubernetes' hack/lib/version.sh sets, so `--version` and /version say v1.36.3; -s -w
    // because nobody debugs this binary and it halves the cache entry.
    ldflags: [
      "-s -w",
      ...["k8s.io/client-go/pkg/version", "k8s.io/component-base/version"].flatMap((pkg) => [
        `-X ${pkg}.gitVersion=v1.36.3`,
        `-X ${pkg}.gitMajor=1`,
        `-X ${pkg}.gitMinor=36`,
        `-X ${pkg}.gitTreeState=clean`,
      ]),
    ].join(" "),
    versionArgs: ["--version"],
    versionPattern: /v\d+\.\d+\.\d+/,
    // dl.k8s.io serves bare binaries with checksums we could not verify offline: without Go, put a
    // kube-apiserver 1.36.x on PATH.
    downloads: {},
    archiveBinary: () => "kube-apiserver",
  },
  etcd: {
    name: "etcd",
    // etcd's main package lives in the root module go.etcd.io/etcd/v3, which the Go module proxy
    // does not serve; scripts/go/etcd is a main calling the server module's etcdmain.Main.
    version: "v3.6.16",
    compatibleVersions: /^3\.6\.\d+$/,
    goSource: "scripts/go/etcd",
    goPackage: ".",
    goVersion: "v3.6.16",
    ldflags: "-s -w",
    versionArgs: ["--version"],
    versionPattern: /(?<=etcd Version: )\d+\.\d+\.\d+/,
    downloads: {},
    archiveBinary: () => "etcd",
  },
  "mesh-sim": {
    name: "mesh-sim",
    // The behaviour layer's helper (scripts/lib/behaviour): Istio's own xDS generation and traffic
    // simulation at the pinned istioctl's Istio commit (its go.mod requires the same pseudo-version
    // with istioctl's replace lines), plus route, JWT and RBAC evaluation of our own.
    version: "0.1.0",
    // Without Go: a mesh-sim of this same version built elsewhere, on PATH or in MESH_SIM_BIN
    // (sim.ts still refuses one that speaks another protocol version).
    compatibleVersions: /^0\.1\.0$/,
    goSource: "scripts/go/mesh-sim",
    goPackage: ".",
    goVersion: "v0.0.0-20260826214018-9739e10eb9d7",
    // Nobody debugs this binary; -s -w shrink the cache entry.
    ldflags: "-s -w",
    versionArgs: ["--version"],
    versionPattern: /(?<=mesh-sim )\d+\.\d+\.\d+/,
    downloads: {},
    archiveBinary: () => "mesh-sim",
  },
};

export const TOOL_NAMES = Object.keys(TOOL_PINS) as ToolName[];
