package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/openbao/openbao/api/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

// OpenBaoProvider builds the OpenBao adapter of a RaftUpgrade from the
// operator's defaults and the RaftUpgrade's Spec.OpenBao.
type OpenBaoProvider struct {
	// Base is the operator-wide client (address and token from flags or the
	// BAO_ADDR / BAO_TOKEN environment). It is cloned, never modified.
	Base *api.Client
	// MemberAddress is the default member address template ("{name}",
	// "{namespace}").
	MemberAddress string
	// Secrets reads token Secrets (use an uncached reader such as
	// mgr.GetAPIReader(), so the operator does not cache every Secret).
	Secrets client.Reader
	// SnapshotDir receives TakeSnapshot files (empty: snapshots fail).
	SnapshotDir string
}

// Cluster implements controller.RaftProvider.
func (p *OpenBaoProvider) Cluster(ctx context.Context, ru *v1alpha1.RaftUpgrade) (controller.RaftCluster, error) {
	if p.Base == nil {
		return nil, fmt.Errorf("openbao provider has no base client")
	}
	spec := ru.Spec.OpenBao
	active, err := p.Base.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone openbao client: %w", err)
	}
	active.SetToken(p.Base.Token())
	if spec.Address != "" {
		if err := active.SetAddress(spec.Address); err != nil {
			return nil, fmt.Errorf("openbao address %q: %w", spec.Address, err)
		}
	}
	if ref := spec.TokenSecretRef; ref != nil {
		token, err := p.token(ctx, ru.Namespace, ref)
		if err != nil {
			return nil, err
		}
		active.SetToken(token)
	}
	tmpl := spec.MemberAddress
	if tmpl == "" {
		tmpl = p.MemberAddress
	}
	ad := &openbao.Adapter{Active: active, JoinMode: openbao.JoinMode(spec.JoinMode)}
	if tmpl != "" {
		ns := ru.Namespace
		ad.Clients = openbao.CloneFactory(active, func(m upgrade.Member) string {
			return strings.NewReplacer("{name}", m.Name, "{namespace}", ns).Replace(tmpl)
		})
	}
	if p.SnapshotDir != "" {
		dir := filepath.Join(p.SnapshotDir, ru.Namespace, ru.Name)
		ad.Snapshots = func(_ context.Context, s upgrade.TakeSnapshot) (io.WriteCloser, error) {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, err
			}
			return os.Create(filepath.Join(dir, filepath.Base(s.Name)+".snap"))
		}
	}
	return ad, nil
}

func (p *OpenBaoProvider) token(ctx context.Context, ns string, ref *corev1.SecretKeySelector) (string, error) {
	if p.Secrets == nil {
		return "", fmt.Errorf("token secret %s: no secret reader configured", ref.Name)
	}
	var s corev1.Secret
	if err := p.Secrets.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &s); err != nil {
		return "", fmt.Errorf("token secret %s: %w", ref.Name, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("token secret %s has no key %q", ref.Name, ref.Key)
	}
	return strings.TrimSpace(string(v)), nil
}
