package raftnode

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestCommandRoundTrip(t *testing.T) {
	b, err := SetCommand("k1", "v1")
	if err != nil {
		t.Fatal(err)
	}
	k, v, err := ParseCommand(b)
	if err != nil || k != "k1" || v != "v1" {
		t.Fatalf("ParseCommand(%q) = %q, %q, %v", b, k, v, err)
	}
	for _, bad := range [][2]string{{"", "v"}, {"k", ""}, {"a b", "v"}, {"k", "v\n"}} {
		if _, err := SetCommand(bad[0], bad[1]); !errors.Is(err, ErrBadCommand) {
			t.Errorf("SetCommand(%q, %q) error = %v", bad[0], bad[1], err)
		}
	}
	for _, bad := range []string{"", "set k", "get k v", "set k v w"} {
		if _, _, err := ParseCommand([]byte(bad)); !errors.Is(err, ErrBadCommand) {
			t.Errorf("ParseCommand(%q) error = %v", bad, err)
		}
	}
}

// single starts and bootstraps a one-node cluster and waits for it to lead.
func single(t *testing.T, dir, version, bind string, bootstrap bool) *Node {
	t.Helper()
	n, err := Start(Config{ID: "n0", Dir: dir, Version: version, Bind: bind})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	if bootstrap {
		if err := n.Bootstrap([]raft.Server{n.Server()}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("single node did not become leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

func TestRestartKeepsDataAtNewVersion(t *testing.T) {
	dir := t.TempDir()
	n := single(t, dir, "1.0.0", "", true)
	w := NewWriter(func() *Node { return n }, WriterConfig{MaxWrites: 50, Interval: time.Millisecond})
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	acks := w.Acks()
	if len(acks) != 50 {
		t.Fatalf("writer acknowledged %d writes, want 50 (stats %+v)", len(acks), w.Stats())
	}
	// Take a snapshot so the restart restores it, then write more.
	if err := n.Raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	cmd, _ := SetCommand("after", "snapshot")
	if err := n.Raft.Apply(cmd, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	addr := string(n.Addr())
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if n.Running() {
		t.Fatal("node still running after Shutdown")
	}

	n2 := single(t, dir, "1.1.0", addr, false)
	if n2.Version() != "1.1.0" || n2.Dir() != dir {
		t.Errorf("restarted node: version %s dir %s", n2.Version(), n2.Dir())
	}
	if err := n2.Raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if lost := Verify(n2.FSM, acks); len(lost) != 0 {
		t.Fatalf("%d acknowledged writes lost across the restart", len(lost))
	}
	if v, ok := n2.FSM.Get("after"); !ok || v != "snapshot" {
		t.Fatalf("write after the snapshot lost: %q %v", v, ok)
	}
	if n2.FSM.Len() != 51 || n2.FSM.AppliedIndex() == 0 || len(n2.FSM.Data()) != 51 {
		t.Errorf("FSM has %d keys, applied index %d", n2.FSM.Len(), n2.FSM.AppliedIndex())
	}
}

func TestWriterStopsWithoutLeader(t *testing.T) {
	w := NewWriter(func() *Node { return nil }, WriterConfig{Duration: 200 * time.Millisecond})
	start := time.Now()
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("writer ran %s past its 200ms bound", d)
	}
	s := w.Stats()
	if s.Acked != 0 || s.NoLeader == 0 || s.LongestGap < 100*time.Millisecond {
		t.Errorf("stats = %+v", s)
	}
}

func TestAddressBook(t *testing.T) {
	b := NewAddressBook()
	if _, err := b.ServerAddr("x"); err == nil {
		t.Error("unknown id resolved")
	}
	b.Set("x", "127.0.0.1:1")
	if a, err := b.ServerAddr("x"); err != nil || a != "127.0.0.1:1" {
		t.Errorf("ServerAddr = %q, %v", a, err)
	}
}

func ExampleSetCommand() {
	cmd, _ := SetCommand("colour", "blue")
	fmt.Println(string(cmd))
	k, v, _ := ParseCommand(cmd)
	fmt.Println(k, v)
	// Output:
	// set colour blue
	// colour blue
}
