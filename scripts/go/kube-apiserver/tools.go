//go:build tools

// Package tools pins k8s.io/kubernetes/cmd/kube-apiserver as a dependency of this wrapper module,
// which exists only to carry the replace lines `go install` refuses.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
