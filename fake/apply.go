package fake

import (
	"fmt"

	"github.com/raftshift/raftshift/upgrade"
)

// Apply executes actions in order, stopping at the first one that fails. It
// returns how many actions took effect; the error wraps ErrPrecondition or
// ErrRejected, and the failing action had no effect. Applied actions are
// listed in the next tick's Record.
func (c *Cluster) Apply(actions []upgrade.Action) (applied int, err error) {
	for i, a := range actions {
		if a == nil {
			return i, fmt.Errorf("fake: action %d is nil: %w", i, ErrRejected)
		}
		if err := c.apply(a); err != nil {
			c.event("action refused: %s: %v", a, err)
			return i, fmt.Errorf("fake: action %d (%s): %w", i, a.Kind(), err)
		}
		c.pending.Actions = append(c.pending.Actions, a.String())
		c.refresh()
	}
	return len(actions), nil
}

func precondition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPrecondition, fmt.Sprintf(format, args...))
}

func rejected(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, args...))
}

// lookup finds a member by name, checking an optional Raft ID.
func (c *Cluster) lookup(name, id string) (*member, error) {
	m := c.byName[name]
	if m == nil {
		return nil, precondition("no member %q", name)
	}
	if id != "" && id != m.id {
		return nil, precondition("member %s has raft id %q, not %q", name, m.id, id)
	}
	return m, nil
}

// needLeader rejects Raft configuration changes without a leader or during a
// leadership transfer.
func (c *Cluster) needLeader() error {
	if c.leader == nil {
		return rejected("the cluster has no leader")
	}
	if c.transfer != nil {
		return rejected("leadership transfer to %s in progress", c.transfer.name)
	}
	return nil
}

func (c *Cluster) apply(a upgrade.Action) error {
	switch a := a.(type) {
	case upgrade.AcquireLock:
		switch {
		case a.Holder == "":
			return rejected("empty lock holder")
		case c.lock.Holder == "":
			c.lock = upgrade.LockView{Holder: a.Holder, Since: c.Now()}
		case c.lock.Holder != a.Holder:
			return rejected("operation lock held by %q", c.lock.Holder)
		}
	case upgrade.ReleaseLock:
		switch c.lock.Holder {
		case "":
		case a.Holder:
			c.lock = upgrade.LockView{}
		default:
			return rejected("operation lock held by %q, not %q", c.lock.Holder, a.Holder)
		}
	case upgrade.SetPartition:
		w := c.findWorkload(a.Workload)
		if w == nil {
			return precondition("no workload %q", a.Workload)
		}
		if a.Partition < 0 {
			return precondition("negative partition %d", a.Partition)
		}
		if int(a.Partition) != w.partition {
			w.partition = int(a.Partition)
			w.generation++
		}
	case upgrade.UpdateTemplate:
		w := c.findWorkload(a.Workload)
		if w == nil {
			return precondition("no workload %q", a.Workload)
		}
		if a.Image == "" || a.Version == "" {
			return precondition("template of %s needs an image and a version", a.Workload)
		}
		rev := revisionName(w.name, a.Image, a.Version)
		if rev != w.update {
			w.revisions[rev] = template{image: a.Image, version: a.Version}
			w.update = rev
			w.generation++
		}
	case upgrade.TransferLeadership:
		return c.transferLeadership(a)
	case upgrade.StepDown:
		l := c.leader
		if l == nil || l.name != a.Member || (a.ID != "" && a.ID != l.id) {
			return precondition("%s is not the leader", a.Member)
		}
		if c.failMove {
			c.failMove = false
			c.event("leadership transfer after %s stepped down timed out: %s still leads term %d", l.name, l.name, c.term)
			return nil
		}
		target := c.stepDownTarget(l)
		c.loseLeader(fmt.Sprintf("leader %s stepped down", l.name))
		c.stepDown = target
	case upgrade.DeletePod:
		m := c.byName[a.Member]
		if m == nil || !m.exists {
			return precondition("pod %s does not exist", a.Member)
		}
		if m.uid != a.UID {
			return precondition("pod %s has uid %q, not %q", a.Member, m.uid, a.UID)
		}
		c.deletePod(m, "deleted", true)
	case upgrade.CreateRevision:
		if c.findWorkload(a.Workload) != nil {
			return precondition("workload %s already exists", a.Workload)
		}
		if a.Replicas <= 0 || a.Image == "" || a.Version == "" || a.Workload == "" {
			return precondition("workload %q needs a name, replicas, an image and a version", a.Workload)
		}
		w := c.newWorkload(a.Workload, a.Image, a.Version, int(a.Replicas))
		for i := range w.replicas {
			m := c.newMember(w, i)
			if !m.exists {
				c.createPod(m, w)
				c.event("pod %s created (%s, %s, %s)", m.name, m.uid, m.revision, m.version)
			}
		}
	case upgrade.DeleteRevision:
		w := c.findWorkload(a.Workload)
		if w == nil {
			return precondition("no workload %q", a.Workload)
		}
		for i, x := range c.workloads {
			if x == w {
				c.workloads = append(c.workloads[:i:i], c.workloads[i+1:]...)
				break
			}
		}
		var gone []*member
		for _, m := range c.members {
			if m.workload == w.name {
				gone = append(gone, m)
			}
		}
		for _, m := range gone {
			if m.exists {
				c.deletePod(m, "deleted with its workload", false)
			}
			c.dropMember(m)
		}
	case upgrade.JoinNonvoter:
		if err := c.needLeader(); err != nil {
			return err
		}
		m, err := c.lookup(a.Member, a.ID)
		if err != nil {
			return err
		}
		if m.present {
			if m.voter {
				return precondition("%s is already a voter", m.name)
			}
			return nil // idempotent: already joined as a non-voter
		}
		if !m.up() {
			return precondition("pod %s is not running", m.name)
		}
		m.present, m.voter, m.autoPromote = true, false, true
		if a.Address != "" {
			m.address = a.Address
		}
		m.reached = c.tick
	case upgrade.Promote:
		if err := c.needLeader(); err != nil {
			return err
		}
		m, err := c.lookup(a.Member, a.ID)
		if err != nil {
			return err
		}
		if !m.present {
			return precondition("%s is not in the raft configuration", m.name)
		}
		c.requestSuffrage(m, true)
	case upgrade.Demote:
		if err := c.needLeader(); err != nil {
			return err
		}
		m, err := c.lookup(a.Member, a.ID)
		if err != nil {
			return err
		}
		if !m.present {
			return precondition("%s is not in the raft configuration", m.name)
		}
		c.requestSuffrage(m, false)
	case upgrade.RemovePeer:
		if err := c.needLeader(); err != nil {
			return err
		}
		m := c.byName[a.Member]
		if m == nil || !m.present {
			return nil // idempotent: already out of the configuration
		}
		if a.ID != "" && a.ID != m.id {
			return precondition("member %s has raft id %q, not %q", a.Member, m.id, a.ID)
		}
		c.requestRemoval(m)
	case upgrade.SwitchService:
		if a.Service != c.cfg.Service {
			return precondition("no service %q", a.Service)
		}
		if c.findWorkload(a.Workload) == nil {
			return precondition("no workload %q", a.Workload)
		}
		c.setService(a.Workload)
	case upgrade.TakeSnapshot:
		if c.leader == nil {
			return rejected("the cluster has no leader")
		}
		if !c.backup.InProgress {
			c.backup.InProgress = true
			c.snapDue = c.tick + snapshotTicks
		}
	case upgrade.RunHook:
		for _, h := range c.hooks {
			if h.status.Hook == a.Hook && h.status.Phase == a.Phase && h.status.Attempt == a.Attempt {
				return nil
			}
		}
		c.hooks = append(c.hooks, hookRun{
			status: upgrade.HookStatus{Hook: a.Hook, Phase: a.Phase, Attempt: a.Attempt},
			due:    c.tick + c.cfg.HookTicks,
		})
	default:
		return rejected("unsupported action %T", a)
	}
	return nil
}

func (c *Cluster) transferLeadership(a upgrade.TransferLeadership) error {
	if !c.cfg.TargetedTransfer {
		return rejected("targeted leadership transfer is not supported")
	}
	l := c.leader
	if l == nil || l.name != a.From || (a.FromID != "" && a.FromID != l.id) {
		return precondition("%s is not the leader", a.From)
	}
	if c.transfer != nil {
		return rejected("leadership transfer to %s already in progress", c.transfer.name)
	}
	t, err := c.lookup(a.To, a.ToID)
	if err != nil {
		return err
	}
	if t == l {
		return precondition("%s already leads", t.name)
	}
	if t.voter && t.reachable() && !l.isolated {
		c.transfer = t
		c.transferDue = c.tick + c.cfg.ElectionTimeout[1]
		c.transferFails, c.failMove = c.failMove, false
		c.event("leadership transfer from %s to %s started", l.name, t.name)
		return nil
	}
	// hashicorp/raft: the leader stops serving as soon as the transfer starts,
	// and a target that cannot win leaves the cluster leaderless until an
	// election.
	c.loseLeader(fmt.Sprintf("leader %s stepped down to transfer leadership to %s, which cannot take over", l.name, t.name))
	return nil
}
