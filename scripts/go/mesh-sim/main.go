// mesh-sim: the behaviour layer's helper. It feeds a rendered cluster (Kubernetes objects and
// Istio config) to Istio's own FakeDiscoveryServer, so every proxy gets the xDS istiod would send
// it, then walks each requested call through those listeners, routes, clusters, endpoints and the
// destination's inbound authn/authz filters. One run per cluster x chapter: SimInput (JSON) on
// stdin, SimOutput (JSON) on stdout; the contract is scripts/lib/behaviour/protocol.ts.
//
// It never touches the network: RequestAuthentication JWKS come from the input (jwksUri is
// never fetched), and there is no Kubernetes API server, only Istio's fake client.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/test"
)

const protocolVersion = 1

// version is the helper's own (pins.ts `mesh-sim`); the Istio it embeds is go.mod's.
const version = "0.1.0"

type SimInput struct {
	Version       int               `json:"version"`
	ClusterDomain string            `json:"clusterDomain"`
	MeshConfig    map[string]any    `json:"meshConfig"`
	Objects       string            `json:"objects"`
	Clients       []SimWorkload     `json:"clients"`
	JWKS          map[string]string `json:"jwks"`
	Requests      []SimRequest      `json:"requests"`
	// EnvoyFilters asks for SimOutput.EnvoyFilters: whether each EnvoyFilter's patches change
	// the configuration generated for the proxies it attaches to (envoyfilter.go).
	EnvoyFilters bool `json:"envoyFilters,omitempty"`
}

type SimWorkload struct {
	Namespace      string            `json:"namespace"`
	Name           string            `json:"name"`
	Labels         map[string]string `json:"labels"`
	ServiceAccount string            `json:"serviceAccount"`
	Sidecar        *bool             `json:"sidecar,omitempty"`
}

type SimSource struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

type SimRequest struct {
	ID       string            `json:"id"`
	From     SimSource         `json:"from"`
	Host     string            `json:"host"`
	Port     int               `json:"port"`
	Protocol string            `json:"protocol"`
	Path     string            `json:"path"`
	Method   string            `json:"method"`
	Headers  map[string]string `json:"headers"`
}

type WeightedCluster struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
}

type FaultDelay struct {
	FixedDelay string  `json:"fixedDelay"`
	Percent    float64 `json:"percent"`
}

type FaultAbort struct {
	HTTPStatus uint32  `json:"httpStatus,omitempty"`
	GrpcStatus uint32  `json:"grpcStatus,omitempty"`
	Percent    float64 `json:"percent"`
}

type Fault struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

type Mirror struct {
	Cluster string  `json:"cluster"`
	Percent float64 `json:"percent"`
}

type Retries struct {
	Attempts      uint32 `json:"attempts"`
	PerTryTimeout string `json:"perTryTimeout,omitempty"`
	RetryOn       string `json:"retryOn,omitempty"`
}

type HashCookie struct {
	Name string `json:"name"`
	TTL  string `json:"ttl,omitempty"`
	Path string `json:"path,omitempty"`
}

type HashPolicy struct {
	Cookie         *HashCookie `json:"cookie,omitempty"`
	Header         string      `json:"header,omitempty"`
	QueryParameter string      `json:"queryParameter,omitempty"`
	SourceIP       bool        `json:"sourceIp,omitempty"`
}

type Verdict struct {
	OK     bool   `json:"ok"`
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type RBACVerdict struct {
	Allowed bool   `json:"allowed"`
	Status  int    `json:"status,omitempty"`
	Policy  string `json:"policy,omitempty"`
}

type SimHop struct {
	Proxy            string            `json:"proxy"`
	Direction        string            `json:"direction"`
	Listener         string            `json:"listener,omitempty"`
	FilterChain      string            `json:"filterChain,omitempty"`
	RouteConfig      string            `json:"routeConfig,omitempty"`
	VirtualHost      string            `json:"virtualHost,omitempty"`
	Route            string            `json:"route,omitempty"`
	Cluster          string            `json:"cluster,omitempty"`
	Subset           string            `json:"subset,omitempty"`
	WeightedClusters []WeightedCluster `json:"weightedClusters,omitempty"`
	Endpoints        *int              `json:"endpoints,omitempty"`
	Fault            *Fault            `json:"fault,omitempty"`
	Mirrors          []Mirror          `json:"mirrors,omitempty"`
	Timeout          string            `json:"timeout,omitempty"`
	Retries          *Retries          `json:"retries,omitempty"`
	HashPolicy       []HashPolicy      `json:"hashPolicy,omitempty"`
	UpstreamTLS      string            `json:"upstreamTls,omitempty"`
	JWT              *Verdict          `json:"jwt,omitempty"`
	RBAC             *RBACVerdict      `json:"rbac,omitempty"`
	Error            string            `json:"error,omitempty"`
}

type Outcome struct {
	Kind        string `json:"kind"`
	Status      int    `json:"status,omitempty"`
	Destination string `json:"destination,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

type Egress struct {
	Gateway       string `json:"gateway"`
	Host          string `json:"host"`
	TLSOriginated bool   `json:"tlsOriginated"`
}

type SimResult struct {
	ID           string   `json:"id"`
	Hops         []SimHop `json:"hops"`
	Outcome      Outcome  `json:"outcome"`
	NotEvaluable string   `json:"notEvaluable,omitempty"`
	Egress       *Egress  `json:"egress,omitempty"`
}

type SimConfigError struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Message   string `json:"message"`
}

type SimOutput struct {
	Version      int              `json:"version"`
	Results      []SimResult      `json:"results"`
	ConfigErrors []SimConfigError `json:"configErrors"`
	// Set when SimInput.EnvoyFilters asked for it: one entry per accepted EnvoyFilter.
	EnvoyFilters []SimEnvoyFilter `json:"envoyFilters,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("mesh-sim %s (protocol %d, istio.io/istio 9739e10eb9d7)\n", version, protocolVersion)
		return
	}
	quietLogs()

	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	var in SimInput
	if err := json.Unmarshal(raw, &in); err != nil {
		fail("stdin is not a SimInput JSON document: %v", err)
	}
	if in.Version != protocolVersion {
		fail("SimInput version %d; this helper speaks protocol version %d (rebuild it: pnpm tools mesh-sim)", in.Version, protocolVersion)
	}
	var out *SimOutput
	// Istio's fake discovery server wants a test context (it registers cleanups and fails through
	// it); test.Wrap gives one outside `go test` and turns a failure into an error.
	werr := test.Wrap(func(t test.Failer) {
		out, err = Simulate(t, in)
	})
	if werr != nil {
		fail("istio's fake discovery server failed: %v", werr)
	}
	if err != nil {
		fail("%v", err)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fail("writing stdout: %v", err)
	}
}

var stderr = os.Stderr

// quietLogs: Istio logs every push and informer event at info; the caller reads JSON on stdout
// and only wants stderr when something breaks.
func quietLogs() {
	opts := istiolog.DefaultOptions()
	opts.SetDefaultOutputLevel(istiolog.OverrideScopeName, istiolog.NoneLevel)
	opts.OutputPaths = []string{"stderr"}
	opts.ErrorOutputPaths = []string{"stderr"}
	_ = istiolog.Configure(opts)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mesh-sim: "+format+"\n", args...)
	os.Exit(1)
}
