package policy_test

import (
	"testing"

	"github.com/raftshift/raftshift/policy"
)

func BenchmarkEvaluate(b *testing.B) {
	in := policy.Input{From: "2.3.1", To: "2.4.0-rc.1", Image: "registry:5000/openbao/openbao:2.4.0-rc.1@sha256:abc"}
	b.ReportAllocs()
	for b.Loop() {
		if err := policy.Evaluate(in, policy.Rules{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVersion(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.ParseVersion("v2.4.0-beta.10+build.1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckPrerequisites(b *testing.B) {
	obs := healthyObs(5, 0)
	p := policy.Prerequisites{RequireBackup: true, Workloads: []string{"raft"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := policy.CheckPrerequisites(obs, p); err != nil {
			b.Fatal(err)
		}
	}
}
