package controller

import (
	"os"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// TestEvictionWebhookManifest: the shipped ValidatingWebhookConfiguration
// routes pods/eviction CREATE to EvictionWebhookPath, fails closed and
// declares the handler's side effects.
func TestEvictionWebhookManifest(t *testing.T) {
	raw, err := os.ReadFile("../config/webhook/eviction.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Kind != "ValidatingWebhookConfiguration" || len(cfg.Webhooks) != 1 {
		t.Fatalf("manifest %+v", cfg)
	}
	w := cfg.Webhooks[0]
	if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil || *w.ClientConfig.Service.Path != EvictionWebhookPath {
		t.Errorf("client config %+v, want path %s", w.ClientConfig, EvictionWebhookPath)
	}
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
		t.Error("failurePolicy is not Fail")
	}
	if w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun {
		t.Error("sideEffects is not NoneOnDryRun")
	}
	if !slices.Contains(w.AdmissionReviewVersions, "v1") || w.NamespaceSelector == nil {
		t.Errorf("admission review versions %v, namespace selector %v", w.AdmissionReviewVersions, w.NamespaceSelector)
	}
	if len(w.Rules) != 1 || !slices.Equal(w.Rules[0].Resources, []string{"pods/eviction"}) ||
		!slices.Equal(w.Rules[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create}) ||
		!slices.Equal(w.Rules[0].APIGroups, []string{""}) {
		t.Errorf("rules %+v, want CREATE of pods/eviction", w.Rules)
	}
}
