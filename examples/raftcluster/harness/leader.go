package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
)

// Leader returns the node currently leading (the highest term wins when
// two claim it), or nil.
func (a *Adapter) Leader() *raftnode.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.leaderPod()
	if p == nil {
		return nil
	}
	return p.node
}

// LeaderInfo returns the leading member's name and its term.
func (a *Adapter) LeaderInfo() (name string, term uint64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.leaderPod()
	if p == nil {
		return "", 0, false
	}
	return p.name, p.node.Raft.CurrentTerm(), true
}

// leaderPod returns the pod whose node leads (the highest term wins), a
// terminating pod included: its node leads until it has shut down or
// handed leadership over, and clients reach it until then. a.mu must be
// held.
func (a *Adapter) leaderPod() *pod {
	var best *pod
	var bestTerm uint64
	for _, p := range a.pods {
		if p.node == nil || (p.state != podRunning && p.state != podTerminating) || p.node.Raft.State() != raft.Leader {
			continue
		}
		if t := p.node.Raft.CurrentTerm(); best == nil || t > bestTerm {
			best, bestTerm = p, t
		}
	}
	return best
}

// WaitLeader waits up to timeout for a leader.
func (a *Adapter) WaitLeader(ctx context.Context, timeout time.Duration) (*raftnode.Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		if n := a.Leader(); n != nil {
			return n, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("harness: no leader after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("harness: waiting for a leader: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// pinLeader moves leadership to the named member with targeted transfers
// until it leads, within timeout.
func (a *Adapter) pinLeader(ctx context.Context, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		l, err := a.WaitLeader(ctx, time.Until(deadline))
		if err != nil {
			return err
		}
		if string(l.ID()) == name {
			return nil
		}
		a.mu.Lock()
		p := a.findPod(name)
		ok := p != nil && p.node != nil && p.state == podRunning
		var id raft.ServerID
		var addr raft.ServerAddress
		if ok {
			id, addr = p.id, p.node.Addr()
		}
		a.mu.Unlock()
		if !ok {
			return fmt.Errorf("harness: start leader %s: %w: no such running member", name, ErrPrecondition)
		}
		if err := l.Raft.LeadershipTransferToServer(id, addr).Error(); err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: %s does not lead after %s (last transfer: %v)", name, timeout, last)
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// Nodes returns the running nodes by member name.
func (a *Adapter) Nodes() map[string]*raftnode.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]*raftnode.Node{}
	for _, p := range a.pods {
		if p.node != nil && p.state == podRunning {
			out[p.name] = p.node
		}
	}
	return out
}
