package harness

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// TestCloseStopsEveryNode checks that no Raft node outlives its Adapter: a
// leftover node of one cluster could disturb the next one started in the
// same process (the Raft IDs repeat).
func TestCloseStopsEveryNode(t *testing.T) {
	before, _, _ := goroutines()
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
	// Every goroutine of a Raft node (its run loop, FSM, snapshots,
	// replication, heartbeats) must be gone, and the rest back to where it
	// was. The connection handlers of closed transports are not counted:
	// hashicorp/raft's NetworkTransport does not track the connections it
	// accepted, and their goroutines end when the peer's side closes, which
	// may be a node of an earlier test.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, nodes, stacks := goroutines()
		if nodes == 0 && n <= before+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close (%d of Raft nodes), %d before:\n%s", n, nodes, before, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(a.Nodes()) != 0 {
		t.Errorf("nodes still registered as running after Close: %v", a.Nodes())
	}
}

// goroutines counts the goroutines other than closed transports' connection
// handlers, and those running a Raft node, with the stacks.
func goroutines() (n, nodes int, stacks string) {
	buf := make([]byte, 4<<20)
	stacks = string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		switch {
		case strings.Contains(g, "raft.(*NetworkTransport).handleConn"):
		case strings.Contains(g, "hashicorp/raft.(*Raft)."):
			n++
			nodes++
		default:
			n++
		}
	}
	return n, nodes, stacks
}
