package harness

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
	"github.com/raftshift/raftshift/upgrade"
)

func precondition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPrecondition, fmt.Sprintf(format, args...))
}

func rejected(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, args...))
}

// Execute carries out actions in order and stops at the first failure. It
// returns how many actions took effect; the error wraps ErrPrecondition or
// ErrRejected (or a Raft error), and the failing action had no effect
// unless Raft itself failed half-way.
//
// Raft actions go to the current leader: TransferLeadership is
// LeadershipTransferToServer (refused unless the target is a running voter:
// a transfer to a non-voter leaves the cluster leaderless until an
// election; refused altogether with Options.NoTargetedTransfer), StepDown is
// an untargeted LeadershipTransfer (hashicorp/raft hands leadership to the
// most up-to-date voter: what OpenBao's sys/step-down ends with, its HA
// lock's Unlock), JoinNonvoter is AddNonvoter
// with the member's real address, Promote is AddVoter, Demote is
// DemoteVoter and RemovePeer is RemoveServer followed by a shutdown of the
// removed node (a removed follower does not stop by itself). The four
// membership actions succeed without effect when the configuration already
// shows what they ask for (a retry after a lost reply). Demote and
// RemovePeer of the leader are refused: hashicorp/raft would make the
// leader step down without handing over. DeletePod, SetPartition,
// UpdateTemplate, CreateRevision and DeleteRevision drive the emulated
// StatefulSet controller; locks, the service, hooks and events are
// bookkeeping; TakeSnapshot snapshots the leader.
func (a *Adapter) Execute(ctx context.Context, actions []upgrade.Action) (int, error) {
	for i, act := range actions {
		if err := ctx.Err(); err != nil {
			return i, fmt.Errorf("harness: %w", err)
		}
		if act == nil {
			return i, fmt.Errorf("harness: action %d is nil: %w", i, ErrRejected)
		}
		if err := a.apply(act); err != nil {
			a.mu.Lock()
			a.event("action refused: %s: %v", act, err)
			a.mu.Unlock()
			return i, fmt.Errorf("harness: action %d (%s): %w", i, act.Kind(), err)
		}
		a.mu.Lock()
		a.event("executed %s", act)
		a.mu.Unlock()
	}
	return len(actions), nil
}

// Emit records a Decision's events in the adapter's event log; events are
// best-effort and never fail.
func (a *Adapter) Emit(events []upgrade.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ev := range events {
		a.event("event %s %s: %s", ev.Type, ev.Reason, ev.Message)
	}
}

// member finds a pod by name and checks its Raft ID; a.mu must be held.
func (a *Adapter) member(name, id string) (*pod, error) {
	p := a.findPod(name)
	if p == nil {
		return nil, precondition("no member %q", name)
	}
	if id != "" && raft.ServerID(id) != p.id {
		return nil, precondition("member %s has raft id %q, not %q", name, p.id, id)
	}
	return p, nil
}

// raftTarget returns the leader node and the named member; a.mu must not be
// held.
func (a *Adapter) raftTarget(name, id string) (*raftnode.Node, *pod, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	lp := a.leaderPod()
	if lp == nil {
		return nil, nil, rejected("the cluster has no leader")
	}
	p, err := a.member(name, id)
	if err != nil {
		return nil, nil, err
	}
	return lp.node, p, nil
}

func suffrage(n *raftnode.Node, id raft.ServerID) (raft.ServerSuffrage, bool) {
	f := n.Raft.GetConfiguration()
	if f.Error() != nil {
		return 0, false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == id {
			return s.Suffrage, true
		}
	}
	return 0, false
}

func (a *Adapter) apply(act upgrade.Action) error {
	timeout := a.opts.Timing.ApplyTimeout
	switch act := act.(type) {
	case upgrade.AcquireLock:
		a.mu.Lock()
		defer a.mu.Unlock()
		switch {
		case act.Holder == "":
			return rejected("empty lock holder")
		case a.lock.Holder == "":
			a.lock = upgrade.LockView{Holder: act.Holder, Since: timeNow()}
		case a.lock.Holder != act.Holder:
			return rejected("operation lock held by %q", a.lock.Holder)
		}
	case upgrade.ReleaseLock:
		a.mu.Lock()
		defer a.mu.Unlock()
		switch a.lock.Holder {
		case "":
		case act.Holder:
			a.lock = upgrade.LockView{}
		default:
			return rejected("operation lock held by %q, not %q", a.lock.Holder, act.Holder)
		}
	case upgrade.SetPartition:
		a.mu.Lock()
		defer a.mu.Unlock()
		w := a.findWorkload(act.Workload)
		if w == nil {
			return precondition("no workload %q", act.Workload)
		}
		if act.Partition < 0 {
			return precondition("negative partition %d", act.Partition)
		}
		if act.Partition != w.partition {
			w.partition = act.Partition
			w.generation++
		}
	case upgrade.UpdateTemplate:
		a.mu.Lock()
		defer a.mu.Unlock()
		w := a.findWorkload(act.Workload)
		if w == nil {
			return precondition("no workload %q", act.Workload)
		}
		if act.Image == "" || act.Version == "" {
			return precondition("template of %s needs an image and a version", act.Workload)
		}
		rev := revisionName(w.name, act.Image, act.Version)
		if rev != w.update {
			w.revisions[rev] = template{image: act.Image, version: act.Version}
			w.update = rev
			w.generation++
		}
	case upgrade.TransferLeadership:
		if a.opts.NoTargetedTransfer {
			return rejected("targeted leadership transfer is not available (use StepDown)")
		}
		l, t, err := a.raftTarget(act.To, act.ToID)
		if err != nil {
			return err
		}
		a.mu.Lock()
		lp := a.leaderPod()
		ok := lp != nil && lp.node == l && lp.name == act.From && (act.FromID == "" || raft.ServerID(act.FromID) == lp.id)
		running := t.node != nil && t.state == podRunning
		var addr raft.ServerAddress
		if running {
			addr = t.node.Addr()
		}
		a.mu.Unlock()
		switch {
		case !ok:
			return precondition("%s is not the leader", act.From)
		case t.id == l.ID():
			return precondition("%s already leads", act.To)
		case !running:
			return rejected("transfer target %s is not running", act.To)
		}
		if s, in := suffrage(l, t.id); !in || s != raft.Voter {
			return rejected("transfer target %s is not a voter: a transfer to it would leave the cluster leaderless", act.To)
		}
		if err := l.Raft.LeadershipTransferToServer(t.id, addr).Error(); err != nil {
			return fmt.Errorf("leadership transfer to %s: %w", act.To, err)
		}
	case upgrade.StepDown:
		a.mu.Lock()
		lp := a.leaderPod()
		a.mu.Unlock()
		if lp == nil || lp.name != act.Member || (act.ID != "" && raft.ServerID(act.ID) != lp.id) {
			return precondition("%s is not the leader", act.Member)
		}
		if err := lp.node.Raft.LeadershipTransfer().Error(); err != nil {
			return fmt.Errorf("step down: %w", err)
		}
	case upgrade.DeletePod:
		a.mu.Lock()
		defer a.mu.Unlock()
		p := a.findPod(act.Member)
		if p == nil || p.state == podAbsent {
			return precondition("pod %s does not exist", act.Member)
		}
		if p.uid != act.UID {
			return precondition("pod %s has uid %q, not %q", act.Member, p.uid, act.UID)
		}
		if p.state != podTerminating {
			p.state, p.recreate = podTerminating, true
		}
	case upgrade.CreateRevision:
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.findWorkload(act.Workload) != nil {
			return precondition("workload %s already exists", act.Workload)
		}
		if act.Replicas <= 0 || act.Image == "" || act.Version == "" || act.Workload == "" {
			return precondition("workload %q needs a name, replicas, an image and a version", act.Workload)
		}
		w := a.newWorkload(act.Workload, act.Image, act.Version, act.Replicas)
		for i := range w.replicas {
			p := a.newPod(w, i)
			if p.state == podAbsent {
				p.recreate = true // the controller creates it
			}
		}
	case upgrade.DeleteRevision:
		return a.deleteRevision(act)
	case upgrade.JoinNonvoter:
		l, p, err := a.raftTarget(act.Member, act.ID)
		if err != nil {
			return err
		}
		a.mu.Lock()
		running := p.node != nil && p.state == podRunning
		var addr raft.ServerAddress
		if running {
			// The member's real address; the action's address is the
			// strategy's DNS-style guess.
			addr = p.node.Addr()
		}
		a.mu.Unlock()
		if !running {
			return precondition("pod %s is not running", act.Member)
		}
		switch s, in := suffrage(l, p.id); {
		case in && s == raft.Nonvoter:
			return nil // done already: a retry after a lost reply
		case in:
			return precondition("%s is already a voter", act.Member)
		}
		if err := l.Raft.AddNonvoter(p.id, addr, 0, timeout).Error(); err != nil {
			return fmt.Errorf("add non-voter %s: %w", act.Member, err)
		}
	case upgrade.Promote:
		l, p, err := a.raftTarget(act.Member, act.ID)
		if err != nil {
			return err
		}
		switch s, in := suffrage(l, p.id); {
		case in && s == raft.Voter:
			return nil // done already: a retry after a lost reply
		case !in:
			return precondition("%s is not in the raft configuration", act.Member)
		}
		a.mu.Lock()
		addr := raft.ServerAddress(p.bind)
		a.mu.Unlock()
		if err := l.Raft.AddVoter(p.id, addr, 0, timeout).Error(); err != nil {
			return fmt.Errorf("promote %s: %w", act.Member, err)
		}
	case upgrade.Demote:
		l, p, err := a.raftTarget(act.Member, act.ID)
		if err != nil {
			return err
		}
		if l.ID() == p.id {
			return rejected("%s is the leader: demoting it would stop it without a hand-over", act.Member)
		}
		switch s, in := suffrage(l, p.id); {
		case in && s == raft.Nonvoter:
			return nil // done already: a retry after a lost reply
		case !in:
			return precondition("%s is not in the raft configuration", act.Member)
		}
		if err := l.Raft.DemoteVoter(p.id, 0, timeout).Error(); err != nil {
			return fmt.Errorf("demote %s: %w", act.Member, err)
		}
	case upgrade.RemovePeer:
		l, p, err := a.raftTarget(act.Member, act.ID)
		if err != nil {
			return err
		}
		if l.ID() == p.id {
			return rejected("%s is the leader: removing it would stop it without a hand-over", act.Member)
		}
		if _, in := suffrage(l, p.id); !in {
			return nil // done already: a retry after a lost reply
		}
		if err := l.Raft.RemoveServer(p.id, 0, timeout).Error(); err != nil {
			return fmt.Errorf("remove %s: %w", act.Member, err)
		}
		// A removed follower never learns it was removed; stop it so it
		// does not disturb the cluster with elections.
		a.mu.Lock()
		stop := p.node != nil
		a.mu.Unlock()
		if stop {
			a.stopPod(p, podStopped)
		}
		a.mu.Lock()
		if a.findWorkload(p.workload) == nil {
			a.dropPod(p)
		}
		a.mu.Unlock()
	case upgrade.SwitchService:
		a.mu.Lock()
		defer a.mu.Unlock()
		if act.Service != a.opts.Service {
			return precondition("no service %q", act.Service)
		}
		if a.findWorkload(act.Workload) == nil {
			return precondition("no workload %q", act.Workload)
		}
		a.service = act.Workload
	case upgrade.TakeSnapshot:
		a.mu.Lock()
		lp := a.leaderPod()
		a.mu.Unlock()
		if lp == nil {
			return rejected("the cluster has no leader")
		}
		if err := lp.node.Raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			return fmt.Errorf("snapshot: %w", err)
		}
		a.mu.Lock()
		a.backup.LastSuccess = timeNow()
		a.mu.Unlock()
	case upgrade.RunHook:
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, h := range a.hooks {
			if h.Hook == act.Hook && h.Phase == act.Phase && h.Attempt == act.Attempt {
				return nil
			}
		}
		a.hooks = append(a.hooks, upgrade.HookStatus{Hook: act.Hook, Phase: act.Phase, Attempt: act.Attempt,
			Done: true, Succeeded: true, Message: "hook " + act.Hook + " succeeded"})
	default:
		return rejected("unsupported action %T", act)
	}
	return nil
}

// deleteRevision deletes a workload and its pods. Pods whose server is still
// in the Raft configuration keep their slot (without a pod).
func (a *Adapter) deleteRevision(act upgrade.DeleteRevision) error {
	a.mu.Lock()
	w := a.findWorkload(act.Workload)
	if w == nil {
		a.mu.Unlock()
		return precondition("no workload %q", act.Workload)
	}
	a.workloads = deleteItem(a.workloads, w)
	var gone []*pod
	for _, p := range a.pods {
		if p.workload == w.name {
			gone = append(gone, p)
		}
	}
	lp := a.leaderPod()
	a.mu.Unlock()
	for _, p := range gone {
		a.stopPod(p, podAbsent)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range gone {
		p.recreate = false
		if lp != nil {
			if _, in := suffrage(lp.node, p.id); in {
				continue
			}
		}
		a.dropPod(p)
	}
	return nil
}

func deleteItem[T comparable](s []T, x T) []T {
	out := s[:0:0]
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}
