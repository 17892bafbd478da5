package main

// Turning a rendered cluster into what Istio's fake discovery server takes: Istio config
// (validated as istiod's webhook would), and Kubernetes objects. A render has Deployments, not
// Pods, and no EndpointSlices (controllers make those in a real cluster), so they are made here:
// one Pod per replica with a stable IP, and the EndpointSlices Kubernetes would derive.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"

	security "istio.io/api/security/v1beta1"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/schema/resource"
)

// pod is one simulated replica of a workload.
type pod struct {
	Namespace      string
	Workload       string
	Name           string
	IP             string
	ServiceAccount string
	Labels         map[string]string
	Sidecar        bool
	// Gateway pods run Envoy as a router (istio-ingress, istio-egress), not as a sidecar.
	Gateway       bool
	ContainerPort map[string]int32
	// The template's containers (their ports): Istio resolves a Service's named targetPort
	// against the pod's container ports to build the inbound listener.
	Containers []corev1.Container
}

func (p *pod) id() string { return p.Namespace + "/" + p.Workload }

type cluster struct {
	Configs      []config.Config
	Kube         []runtime.Object
	Pods         []*pod
	PodsByIP     map[string]*pod
	Services     []*corev1.Service
	ConfigErrors []SimConfigError
	// Issuers whose RequestAuthentication got a stand-in JWKS: their tokens cannot be verified.
	UnverifiableIssuers map[string]bool
}

// object is the part of any rendered document this file looks at before decoding it fully.
type object struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
}

type workloadSpec struct {
	Spec struct {
		Replicas *int32                 `json:"replicas"`
		Template corev1.PodTemplateSpec `json:"template"`
	} `json:"spec"`
}

var (
	docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(?:#.*)?$`)
	topLevelKind = regexp.MustCompile(`(?m)^kind:[ \t]*["']?([A-Za-z]+)`)
	topLevelAPI  = regexp.MustCompile(`(?m)^apiVersion:[ \t]*["']?([^\s"']+)`)
	wantedKinds  = map[string]bool{"Namespace": true, "Service": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true}
)

// wanted says from a document's top-level lines whether it can matter here. A render is mostly
// CRDs and dashboards (megabytes); converting them from YAML would be most of a run's time.
// A document these lines cannot classify is decoded anyway.
func wanted(doc string) bool {
	k := topLevelKind.FindStringSubmatch(doc)
	a := topLevelAPI.FindStringSubmatch(doc)
	if k == nil || a == nil {
		return true
	}
	return wantedKinds[k[1]] || strings.Contains(a[1], ".istio.io/")
}

func splitDocuments(s string) ([][]byte, error) {
	var docs [][]byte
	for i, part := range docSeparator.Split(s, -1) {
		if !wanted(part) {
			continue
		}
		dec := kubeyaml.NewYAMLOrJSONDecoder(strings.NewReader(part), 1<<20)
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				if err == io.EOF {
					break
				}
				return nil, fmt.Errorf("objects: document %d is not valid YAML: %v", i+1, err)
			}
			if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
				continue
			}
			docs = append(docs, raw)
		}
	}
	return docs, nil
}

func buildCluster(in SimInput) (*cluster, error) {
	docs, err := splitDocuments(in.Objects)
	if err != nil {
		return nil, err
	}
	c := &cluster{PodsByIP: map[string]*pod{}, UnverifiableIssuers: map[string]bool{}}
	namespaces := map[string]*corev1.Namespace{}
	type workload struct {
		ns, name string
		spec     workloadSpec
	}
	var workloads []workload
	for _, doc := range docs {
		var o object
		if err := json.Unmarshal(doc, &o); err != nil || o.Kind == "" {
			continue
		}
		gv := strings.SplitN(o.APIVersion, "/", 2)
		group := ""
		if len(gv) == 2 {
			group = gv[0]
		}
		switch {
		case strings.HasSuffix(group, ".istio.io"):
			c.addIstioConfig(doc, o, in.JWKS)
		case group == "" && o.Kind == "Namespace":
			ns := &corev1.Namespace{}
			if err := json.Unmarshal(doc, ns); err == nil {
				namespaces[ns.Name] = ns
			}
		case group == "" && o.Kind == "Service":
			svc := &corev1.Service{}
			if err := json.Unmarshal(doc, svc); err != nil {
				return nil, fmt.Errorf("objects: Service %s/%s: %v", o.Metadata.Namespace, o.Metadata.Name, err)
			}
			if svc.Namespace == "" {
				svc.Namespace = "default"
			}
			c.Services = append(c.Services, svc)
		case group == "apps" && (o.Kind == "Deployment" || o.Kind == "StatefulSet" || o.Kind == "DaemonSet"):
			var w workloadSpec
			if err := json.Unmarshal(doc, &w); err != nil {
				return nil, fmt.Errorf("objects: %s %s/%s: %v", o.Kind, o.Metadata.Namespace, o.Metadata.Name, err)
			}
			ns := o.Metadata.Namespace
			if ns == "" {
				ns = "default"
			}
			workloads = append(workloads, workload{ns, o.Metadata.Name, w})
		}
	}
	injected := func(ns string) bool {
		n := namespaces[ns]
		if n == nil {
			return false
		}
		return n.Labels["istio-injection"] == "enabled" || (n.Labels["istio.io/rev"] != "" && n.Labels["istio-injection"] != "disabled")
	}
	for _, w := range workloads {
		tmpl := w.spec.Spec.Template
		labels := map[string]string{}
		for k, v := range tmpl.Labels {
			labels[k] = v
		}
		gateway := tmpl.Annotations["inject.istio.io/templates"] == "gateway" ||
			labels["istio"] == "ingressgateway" || labels["istio"] == "egressgateway"
		sidecar := injected(w.ns)
		if v, ok := labels["sidecar.istio.io/inject"]; ok {
			sidecar = v == "true"
		} else if v, ok := tmpl.Annotations["sidecar.istio.io/inject"]; ok {
			sidecar = v == "true"
		}
		if labels["app"] == "istiod" {
			continue
		}
		replicas := int32(1)
		if r := w.spec.Spec.Replicas; r != nil {
			replicas = *r
		}
		ports := map[string]int32{}
		for _, ct := range tmpl.Spec.Containers {
			for _, p := range ct.Ports {
				if p.Name != "" {
					ports[p.Name] = p.ContainerPort
				}
			}
		}
		sa := tmpl.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		for i := int32(0); i < replicas; i++ {
			c.addPod(&pod{
				Namespace: w.ns, Workload: w.name, Name: fmt.Sprintf("%s-%d", w.name, i),
				ServiceAccount: sa, Labels: labels, Sidecar: sidecar || gateway, Gateway: gateway,
				ContainerPort: ports, Containers: containerPorts(tmpl.Spec.Containers),
			})
		}
	}
	for _, cl := range in.Clients {
		sidecar := injected(cl.Namespace)
		if cl.Sidecar != nil {
			sidecar = *cl.Sidecar
		}
		sa := cl.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		labels := map[string]string{"app": cl.Name}
		for k, v := range cl.Labels {
			labels[k] = v
		}
		c.addPod(&pod{
			Namespace: cl.Namespace, Workload: cl.Name, Name: cl.Name + "-0",
			ServiceAccount: sa, Labels: labels, Sidecar: sidecar, ContainerPort: map[string]int32{},
		})
	}
	for _, ns := range namespaces {
		c.Kube = append(c.Kube, ns)
	}
	for i, svc := range c.Services {
		// No API server allocates ClusterIPs here; a stable one per Service keeps traces readable.
		if svc.Spec.ClusterIP == "" && svc.Spec.Type != corev1.ServiceTypeExternalName {
			svc.Spec.ClusterIP = fmt.Sprintf("10.96.%d.%d", (i+1)/250, (i+1)%250+1)
		}
		c.Kube = append(c.Kube, svc)
		if slice := c.endpointSlice(svc); slice != nil {
			c.Kube = append(c.Kube, slice)
		}
	}
	for _, p := range c.Pods {
		c.Kube = append(c.Kube, p.kubePod())
	}
	return c, nil
}

func (c *cluster) addPod(p *pod) {
	n := len(c.Pods) + 1
	p.IP = fmt.Sprintf("10.244.%d.%d", n/250, n%250+1)
	if p.Sidecar && !p.Gateway {
		// What the sidecar injector adds: auto mTLS sends mTLS only to endpoints carrying this
		// label. The gateway template does not, so plain-text Gateway servers get plain text.
		labels := map[string]string{"security.istio.io/tlsMode": "istio"}
		for k, v := range p.Labels {
			labels[k] = v
		}
		p.Labels = labels
	}
	c.Pods = append(c.Pods, p)
	c.PodsByIP[p.IP] = p
}

func containerPorts(cs []corev1.Container) []corev1.Container {
	out := make([]corev1.Container, 0, len(cs))
	for _, c := range cs {
		out = append(out, corev1.Container{Name: c.Name, Image: c.Image, Ports: c.Ports})
	}
	return out
}

func (p *pod) kubePod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels},
		Spec:       corev1.PodSpec{ServiceAccountName: p.ServiceAccount, NodeName: "node", Containers: p.Containers},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      p.IP,
			PodIPs:     []corev1.PodIP{{IP: p.IP}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// targetPort resolves a Service port to the container port the way kube-proxy does.
func targetPort(sp corev1.ServicePort, p *pod) int32 {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		if v, ok := p.ContainerPort[sp.TargetPort.StrVal]; ok {
			return v
		}
		return sp.Port
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal
	}
	return sp.Port
}

func (c *cluster) podsOf(svc *corev1.Service) []*pod {
	var out []*pod
	for _, p := range c.Pods {
		if p.Namespace == svc.Namespace && selects(svc.Spec.Selector, p.Labels) {
			out = append(out, p)
		}
	}
	return out
}

func (c *cluster) endpointSlice(svc *corev1.Service) *discoveryv1.EndpointSlice {
	pods := c.podsOf(svc)
	if len(pods) == 0 {
		return nil
	}
	ready := true
	slice := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{
			Name: svc.Name + "-sim", Namespace: svc.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, sp := range svc.Spec.Ports {
		name := sp.Name
		port := targetPort(sp, pods[0])
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	for _, p := range pods {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.IP},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: p.Name, Namespace: p.Namespace},
		})
	}
	return slice
}

// addIstioConfig converts one Istio document, validates it as istiod's webhook would (an invalid
// one is reported and left out, as the API server would refuse it), and swaps RequestAuthentication
// jwksUri for the JWKS given in the input.
func (c *cluster) addIstioConfig(doc []byte, o object, jwks map[string]string) {
	var obj crd.IstioKind
	if err := json.Unmarshal(doc, &obj); err != nil {
		c.configError(o, fmt.Sprintf("not a valid %s: %v", o.Kind, err))
		return
	}
	k := obj.GroupVersionKind()
	s, ok := collections.PilotGatewayAPI().FindByGroupVersionAliasesKind(resource.FromKubernetesGVK(&k))
	if !ok {
		return // e.g. an IstioOperator or a telemetry kind istiod does not serve
	}
	cfg, err := crd.ConvertObject(s, &obj, "cluster.local")
	if err != nil {
		c.configError(o, err.Error())
		return
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if _, err := s.ValidateConfig(*cfg); err != nil {
		c.configError(o, err.Error())
		return
	}
	if cfg.GroupVersionKind == gvk.RequestAuthentication {
		ra := cfg.Spec.(*security.RequestAuthentication)
		for _, rule := range ra.JwtRules {
			if keys, ok := jwks[rule.Issuer]; ok {
				rule.Jwks = keys
			} else if rule.Jwks == "" {
				rule.Jwks = standInJWKS()
				c.UnverifiableIssuers[rule.Issuer] = true
			}
			rule.JwksUri = ""
		}
	}
	c.Configs = append(c.Configs, *cfg)
}

func (c *cluster) configError(o object, msg string) {
	ns := o.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	c.ConfigErrors = append(c.ConfigErrors, SimConfigError{Kind: o.Kind, Namespace: ns, Name: o.Metadata.Name, Message: msg})
}

var standIn string

// standInJWKS is a public key nobody holds the private half of: istiod gets a well-formed
// document instead of a jwksUri to fetch, and no token verifies against it.
func standInJWKS() string {
	if standIn != "" {
		return standIn
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "mesh-sim-stand-in", Algorithm: "ES256", Use: "sig"}}}
	b, _ := json.Marshal(set)
	standIn = string(b)
	return standIn
}

// servicesFor lists the Services selecting a pod, by name, for stable output.
func (c *cluster) servicesFor(p *pod) []*corev1.Service {
	var out []*corev1.Service
	for _, svc := range c.Services {
		if svc.Namespace == p.Namespace && selects(svc.Spec.Selector, p.Labels) {
			out = append(out, svc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
