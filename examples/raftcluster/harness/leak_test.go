package harness

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// TestCloseStopsEveryNode checks that no Raft node outlives its Adapter: a
// leftover node of one cluster could disturb the next one started in the
// same process (the Raft IDs repeat).
func TestCloseStopsEveryNode(t *testing.T) {
	before := runtime.NumGoroutine()
	a, err := New(context.Background(), Options{Nodes: 3, Dir: t.TempDir(), StartDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	settled(t, a)
	// Leave a pod restarting and a new workload starting when closing.
	obs := a.Observe(time.Now())
	m, _ := obs.Member("raft-2")
	if _, err := a.Execute(context.Background(), []upgrade.Action{
		upgrade.DeletePod{Member: m.Name, UID: m.Pod.UID},
		upgrade.CreateRevision{Workload: "green", Image: Image("1.1.0"), Version: "1.1.0", Replicas: 2},
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	a.Close()
	a.Close() // idempotent
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+2 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(a.Nodes()) != 0 {
		t.Errorf("nodes still registered as running after Close: %v", a.Nodes())
	}
}
