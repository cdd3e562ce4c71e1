//go:build tools

// Package tools pins oauth2-proxy's command so `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/oauth2-proxy/oauth2-proxy/v7"
