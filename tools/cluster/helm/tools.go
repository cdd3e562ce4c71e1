//go:build tools

// Package tools pins helm's main package so `go build` resolves it from this module.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
