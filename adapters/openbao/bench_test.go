package openbao_test

import (
	"testing"

	"github.com/raftshift/raftshift/adapters/openbao"
)

func BenchmarkMerge(b *testing.B) {
	cfg, ap := decodedFixtures(b)
	st := &openbao.State{Configuration: &cfg, Autopilot: &ap}
	obs := k8sObservation(4)
	b.ReportAllocs()
	for b.Loop() {
		_ = openbao.Merge(obs, st, nil)
	}
}

func BenchmarkDecodeAutopilotState(b *testing.B) {
	body := fixture(b, "autopilot_healthy.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := openbao.DecodeAutopilotState(body); err != nil {
			b.Fatal(err)
		}
	}
}
