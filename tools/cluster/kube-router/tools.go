//go:build tools

// Package tools pins kube-router's command: the development cluster's NetworkPolicy engine.
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
