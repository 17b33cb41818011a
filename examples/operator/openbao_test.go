package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

func baseClient(t *testing.T) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = "https://bao-active.default.svc:8200"
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("base-token")
	return c
}

func TestOpenBaoProviderBuildsTheAdapterOfARaftUpgrade(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "vault", Name: "tok"},
		Data: map[string][]byte{"token": []byte(" s.spec-token\n")}}
	dir := t.TempDir()
	p := &OpenBaoProvider{Base: baseClient(t), MemberAddress: "https://{name}.default:8200",
		Secrets: fake.NewClientBuilder().WithObjects(secret).Build(), SnapshotDir: dir}
	ru := &v1alpha1.RaftUpgrade{ObjectMeta: metav1.ObjectMeta{Namespace: "vault", Name: "bao"},
		Spec: v1alpha1.RaftUpgradeSpec{OpenBao: v1alpha1.OpenBaoSpec{
			Address:        "https://bao-active.vault.svc:8200",
			MemberAddress:  "https://{name}.bao-internal.{namespace}.svc:8200",
			TokenSecretRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "tok"}, Key: "token"},
			JoinMode:       "API",
		}}}
	rc, err := p.Cluster(context.Background(), ru)
	if err != nil {
		t.Fatal(err)
	}
	var _ controller.RaftCluster = rc
	ad, ok := rc.(*openbao.Adapter)
	if !ok {
		t.Fatalf("provider returned %T", rc)
	}
	if ad.Active.Address() != "https://bao-active.vault.svc:8200" || ad.Active.Token() != "s.spec-token" {
		t.Fatalf("active client %s with token %q", ad.Active.Address(), ad.Active.Token())
	}
	if p.Base.Address() != "https://bao-active.default.svc:8200" || p.Base.Token() != "base-token" {
		t.Fatal("the base client was modified")
	}
	if ad.JoinMode != openbao.JoinMode("API") {
		t.Fatalf("join mode %q", ad.JoinMode)
	}
	mc, err := ad.Clients(upgrade.Member{Name: "bao-1"})
	if err != nil || mc.Address() != "https://bao-1.bao-internal.vault.svc:8200" {
		t.Fatalf("member client %v, err %v", mc, err)
	}
	w, err := ad.Snapshots(context.Background(), upgrade.TakeSnapshot{Name: "../pre-upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(filepath.Join(dir, "vault", "bao", "pre-upgrade.snap")); err != nil {
		t.Fatalf("snapshot file: %v", err)
	}
}

func TestOpenBaoProviderRefusesWhatItCannotBuild(t *testing.T) {
	ru := &v1alpha1.RaftUpgrade{ObjectMeta: metav1.ObjectMeta{Namespace: "vault", Name: "bao"}}
	if _, err := (&OpenBaoProvider{}).Cluster(context.Background(), ru); err == nil {
		t.Fatal("no base client accepted")
	}
	ru.Spec.OpenBao.TokenSecretRef = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "token"}
	p := &OpenBaoProvider{Base: baseClient(t), Secrets: fake.NewClientBuilder().Build()}
	if _, err := p.Cluster(context.Background(), ru); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing secret: %v", err)
	}
	p.Secrets = nil
	if _, err := p.Cluster(context.Background(), ru); err == nil {
		t.Fatal("no secret reader accepted")
	}
}
