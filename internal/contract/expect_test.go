package contract_test

import (
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/upgrade"
)

func TestExpectations(t *testing.T) {
	before := cluster(3, 1)
	acts := []upgrade.Action{
		upgrade.SetPartition{Workload: "raft", Partition: 2},
		upgrade.UpdateTemplate{Workload: "raft", Image: "openbao/openbao:2.5.0", Version: "2.5.0"},
		upgrade.DeletePod{Member: "raft-2", UID: "uid-raft-2"},
		upgrade.StepDown{Member: "raft-0"},
		upgrade.Promote{Member: "green-0"},
		upgrade.SwitchService{Service: "openbao", Workload: "green"},
		upgrade.AcquireLock{Holder: "me"},
	}
	e := contract.ExpectationsOf(&before, acts)
	if e == nil || len(e.Items) != 7 || !e.Since.Time.Equal(now) {
		t.Fatalf("expectations %+v", e)
	}
	st := upgrade.Status{Expected: e}
	// Nothing happened yet: wait, saying what for.
	soon := *before.DeepCopy()
	soon.Now = now.Add(10 * time.Millisecond)
	g, done := contract.CheckExpected(&soon, &st, time.Minute)
	if g == nil || done || g.Reason != upgrade.ReasonAwaitingEffects || !strings.Contains(g.Message, "pod raft-2 (uid-raft-2) replaced") {
		t.Fatalf("CheckExpected = %v, %v", g, done)
	}
	// Everything happened, 10 ms later: go on at once.
	after := *soon.DeepCopy()
	w := &after.Workloads[1]
	w.Partition, w.Image, w.Generation = 2, "openbao/openbao:2.5.0", w.Generation+2
	member(&after, "raft-2").Pod.UID = "uid-new"
	after.Raft.Term++
	member(&after, "green-0").Raft.Suffrage = upgrade.Voter
	after.Service.Workload = "green"
	after.Lock.Holder = "me"
	if g, done := contract.CheckExpected(&after, &st, time.Minute); g != nil || !done {
		t.Fatalf("all effects observed: %v, %v", g, done)
	}
	// A stale cache showing the old partition value with an old generation
	// does not count: the generation must have moved.
	stale := *after.DeepCopy()
	stale.Workloads[1].Generation = before.Workloads[1].Generation
	if g, _ := contract.CheckExpected(&stale, &st, time.Minute); g == nil {
		t.Fatal("an old generation satisfied the partition expectation")
	}
	// Overdue: go on and re-derive.
	late := *soon.DeepCopy()
	late.Now = now.Add(2 * time.Minute)
	if g, done := contract.CheckExpected(&late, &st, time.Minute); g != nil || !done {
		t.Fatalf("overdue: %v, %v", g, done)
	}
	// An unknown view shows no membership effect.
	unknown := *after.DeepCopy()
	unknownView(&unknown)
	if contract.ExpectationsOf(&before, []upgrade.Action{upgrade.Promote{Member: "green-0"}}).Items[0].Met(&unknown) {
		t.Fatal("an unknown view showed a promotion")
	}
	if contract.ExpectationsOf(&before, []upgrade.Action{upgrade.RunHook{Hook: "h"}}) != nil {
		t.Fatal("hooks expect nothing")
	}
	if g, done := contract.CheckExpected(&after, &upgrade.Status{}, time.Minute); g != nil || done {
		t.Fatal("no expectations: nothing to do")
	}
}
