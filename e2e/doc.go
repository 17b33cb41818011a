// Package e2e holds raftshift's end-to-end tests against a real
// kube-apiserver and the real StatefulSet controller, started in-process by
// the harness in internal/cluster. It is a separate Go module so that users
// of the library never download Kubernetes.
//
// # Usage
//
//	cd e2e && go test ./...
//
// The first run compiles the kube-apiserver (about 10 minutes on the
// project's 2-core machine); later runs take about three minutes. Set
// E2E_VERBOSE=1 to see the control plane's logs, E2E_SEED=<n> to vary the
// simulated Raft's seeds (catch-up lags, election delays and winners).
package e2e
