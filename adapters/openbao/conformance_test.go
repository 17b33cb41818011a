package openbao_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/raftshift/raftshift/adapters/adaptertest"
	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/adapters/openbao/openbaotest"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// emulated is the conformance suite's cluster over the OpenBao API
// emulator: a sealed server stands for an unreachable one (a sealed OpenBao
// runs no Raft), and the spare is a server of a second StatefulSet.
type emulated struct {
	em *openbaotest.Emulator
}

func (e emulated) Base(context.Context) (upgrade.Observation, error) {
	return e.em.KubernetesObservation(), nil
}

func (e emulated) Stop(_ context.Context, member string) error  { return e.em.Seal(member, true) }
func (e emulated) Start(_ context.Context, member string) error { return e.em.Seal(member, false) }
func (e emulated) Settle(context.Context)                       { e.em.Tick() }

func (e emulated) Spare(context.Context) (upgrade.Member, bool, error) {
	if _, err := e.em.Apply([]upgrade.Action{upgrade.CreateRevision{Workload: "spare", Replicas: 1,
		Image: "openbao/openbao:2.3.0", Version: "2.3.0"}}); err != nil {
		return upgrade.Member{}, false, err
	}
	for range 30 {
		e.em.Tick()
		obs := e.em.KubernetesObservation()
		if m, ok := obs.Member("spare-0"); ok && m.Pod.Running {
			return m, true, nil
		}
	}
	return upgrade.Member{}, false, fmt.Errorf("spare-0 never ran")
}

func TestConformance(t *testing.T) {
	for _, mode := range []openbao.JoinMode{openbao.JoinAPI} {
		c := fake.New(fake.Config{Seed: 1, Replicas: 3})
		em := openbaotest.New(c, openbaotest.Options{})
		t.Cleanup(em.Close)
		active, err := em.ActiveClient()
		if err != nil {
			t.Fatal(err)
		}
		ad := &openbao.Adapter{Active: active, Clients: em.Client, JoinMode: mode}
		adaptertest.Run(t, ad, emulated{em: em}, adaptertest.Options{})
	}
}
