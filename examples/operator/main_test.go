package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A kubeconfig pointing nowhere: run must fail on configuration, before
// contacting any server.
func kubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunNeedsALeaderElectionNamespaceOutsideACluster(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	err := run([]string{"-kubeconfig", kubeconfig(t), "-openbao-address", "https://127.0.0.1:8200", "-leader-elect"})
	if err == nil || !strings.Contains(err.Error(), "-leader-election-namespace") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunRejectsAnUnknownContext(t *testing.T) {
	err := run([]string{"-kubeconfig", kubeconfig(t), "-context", "nope", "-leader-elect=false"})
	if err == nil || !strings.Contains(err.Error(), "kubernetes client config") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownFlag(t *testing.T) {
	if err := run([]string{"-no-such-flag"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
}
