package openbao

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/upgrade"
)

// Calls Read sends, as CallError.Call renders them.
const (
	callHealth        = "GET /v1/" + PathHealth
	callLeader        = "GET /v1/" + PathLeader
	callConfiguration = "GET /v1/" + PathConfiguration
	callAutopilot     = "GET /v1/" + PathAutopilot
)

// Read fetches the Raft state from OpenBao, through any node that answers:
//
//  1. With Clients set, each member's own sys/health, in member order. A
//     failing call is recorded in State.Health (a down pod is normal
//     during upgrades).
//  2. sys/leader, the Raft configuration and the autopilot state, asking
//     first Active, then — with Clients set — each member whose sys/health
//     said initialized and unsealed, in member order (standbys forward the
//     configuration and autopilot reads to the active node). Each read
//     stops at the first node that answers; a node that gave no response
//     at all (connection refused, timeout) is not asked again. sys/leader
//     stops at the first answer naming a leader; autopilot is asked first
//     of the node that answered the configuration.
//
// Every call is bounded by ReadTimeout and the order is fixed, so a Read of
// n members sends at most n health calls and 3(n+1) cluster reads.
//
// Except for ErrConfig (no client at all), Read returns a State even when
// it also returns an error, holding what could be read: when no node answered the configuration (no active node,
// e.g. during an election: standbys answer "local node not active but
// active cluster node not found") the error wraps ErrViewUnknown and the
// view is unknown; when no node answered the autopilot state the view is
// partial. Autopilot answering 404 or nothing is not an error: then
// State.Autopilot is nil and Merge marks every member Unknown. Each error
// is one line: a *CallError, or wraps one; State.Errors lists every failed
// call.
func (a *Adapter) Read(ctx context.Context, members []upgrade.Member) (*State, error) {
	if a == nil || (a.Active == nil && a.Clients == nil) {
		return nil, fmt.Errorf("openbao: read: %w: no active-node client and no client factory", ErrConfig)
	}
	st := &State{}
	if a.Clients != nil && len(members) > 0 {
		st.Health = make(map[string]MemberHealth, len(members))
		for _, m := range members {
			h := a.memberHealth(ctx, m)
			st.Health[m.Name] = h
			if !h.Reachable {
				st.Errors = append(st.Errors, h.Error)
			}
		}
	}
	r := &reader{a: a, st: st, srcs: a.sources(members, func(m upgrade.Member) bool {
		h, ok := st.Health[m.Name]
		return ok && h.Serving()
	})}
	st.Leader = r.leader(ctx)
	cfg, at, first, asked := r.configuration(ctx)
	if cfg == nil {
		if first == nil {
			return st, fmt.Errorf("openbao: read: %w: no node left to ask for the raft configuration (%d unreachable)", ErrViewUnknown, len(r.srcs))
		}
		return st, fmt.Errorf("openbao: read: %w: no node answered the raft configuration (%d asked), first failure: %w", ErrViewUnknown, asked, first)
	}
	st.Configuration, st.ConfigurationFrom = cfg, r.srcs[at].name
	ap, err := r.autopilot(ctx, at)
	st.Autopilot = ap
	return st, err
}

// source is a client Read (or Execute's pre-checks) may ask for the
// cluster-wide state.
type source struct {
	name string // ActiveNode or the member's name
	c    *api.Client
	dead bool // a call got no response: not asked again
}

// sources returns the clients to ask, in order: Active, then the clients of
// the members eligible says, in member order.
func (a *Adapter) sources(members []upgrade.Member, eligible func(upgrade.Member) bool) []*source {
	var out []*source
	if a.Active != nil {
		out = append(out, &source{name: ActiveNode, c: a.Active})
	}
	if a.Clients == nil {
		return out
	}
	for _, m := range members {
		if !eligible(m) {
			continue
		}
		if c, err := a.Clients(m); err == nil && c != nil {
			out = append(out, &source{name: m.Name, c: c})
		}
	}
	return out
}

// reader walks the sources of one Read.
type reader struct {
	a    *Adapter
	st   *State // nil: failures are not recorded
	srcs []*source
}

// fail records a failed call and marks its source dead when no response
// arrived.
func (r *reader) fail(s *source, ce *CallError) {
	if r.st != nil {
		r.st.Errors = append(r.st.Errors, ce.Error())
	}
	if !answered(ce.Err) {
		s.dead = true
	}
}

// leader asks sys/leader of each source until one names a leader (itself
// or another node). Without such an answer it returns the first answer
// (leaderless), or nil when nobody answered.
func (r *reader) leader(ctx context.Context) *LeaderInfo {
	var first *LeaderInfo
	for _, s := range r.srcs {
		if s.dead {
			continue
		}
		li, err := readLeader(ctx, s.c, r.a.readTimeout())
		if err != nil {
			r.fail(s, callErr("read leader", "", s.name, callLeader, s.c, err, false))
			continue
		}
		li.From = s.name
		if li.IsSelf || li.LeaderAddress != "" {
			return li
		}
		if first == nil {
			first = li
		}
	}
	return first
}

// configuration asks each source for the Raft configuration and returns the
// first answer with the index of the source that gave it. Without an answer
// it returns the first failure (nil when no source was left to ask) and the
// number of sources asked.
func (r *reader) configuration(ctx context.Context) (cfg *Configuration, at int, first *CallError, asked int) {
	for i, s := range r.srcs {
		if s.dead {
			continue
		}
		asked++
		cfg, err := readConfiguration(ctx, s.c, r.a.readTimeout())
		if err == nil {
			return cfg, i, nil, asked
		}
		ce := callErr("read raft configuration", "", s.name, callConfiguration, s.c, err, false)
		r.fail(s, ce)
		if first == nil {
			first = ce
		}
	}
	return nil, -1, first, asked
}

// autopilot asks the source at index first, then the others in order, for
// the autopilot state. nil with a nil error means autopilot is unavailable.
func (r *reader) autopilot(ctx context.Context, first int) (*AutopilotState, error) {
	order := make([]*source, 0, len(r.srcs))
	order = append(order, r.srcs[first])
	for i, s := range r.srcs {
		if i != first {
			order = append(order, s)
		}
	}
	var firstErr error
	for _, s := range order {
		if s.dead {
			continue
		}
		ap, err := readAutopilot(ctx, s.c, r.a.readTimeout())
		if err == nil {
			return ap, nil
		}
		ce := callErr("read autopilot state", "", s.name, callAutopilot, s.c, err, false)
		r.fail(s, ce)
		if firstErr == nil {
			firstErr = ce
		}
	}
	if firstErr == nil {
		return nil, errors.New("openbao: read: no node left to ask for the autopilot state")
	}
	return nil, fmt.Errorf("openbao: read: no node answered the autopilot state, first failure: %w", firstErr)
}

// readLeader is one sys/leader call.
func readLeader(ctx context.Context, c *api.Client, timeout time.Duration) (*LeaderInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ldr, err := c.Sys().LeaderWithContext(ctx)
	if err != nil {
		return nil, err
	}
	return &LeaderInfo{
		HAEnabled:            ldr.HAEnabled,
		IsSelf:               ldr.IsSelf,
		LeaderAddress:        ldr.LeaderAddress,
		LeaderClusterAddress: ldr.LeaderClusterAddress,
		RaftCommittedIndex:   ldr.RaftCommittedIndex,
		RaftAppliedIndex:     ldr.RaftAppliedIndex,
	}, nil
}

// readConfiguration is one sys/storage/raft/configuration call.
func readConfiguration(ctx context.Context, c *api.Client, timeout time.Duration) (*Configuration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	secret, err := c.Logical().ReadWithContext(ctx, PathConfiguration)
	if err != nil {
		return nil, err
	}
	if secret == nil || secret.Data == nil {
		return nil, malformed("empty response (is raft storage in use?)")
	}
	cfg, err := configurationFromData(secret.Data)
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}

// readAutopilot is one sys/storage/raft/autopilot/state call. Logical().Read
// returns nil, nil on 404 and on an empty answer (OpenBao answers 204 while
// autopilot has no state yet): autopilot unavailable.
func readAutopilot(ctx context.Context, c *api.Client, timeout time.Duration) (*AutopilotState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	secret, err := c.Logical().ReadWithContext(ctx, PathAutopilot)
	if err != nil {
		return nil, err
	}
	if secret == nil || secret.Data == nil {
		return nil, nil
	}
	ap, err := autopilotFromData(secret.Data)
	if err != nil {
		return nil, err
	}
	return &ap, nil
}

// memberHealth is one member's own sys/health.
func (a *Adapter) memberHealth(ctx context.Context, m upgrade.Member) MemberHealth {
	c, err := a.Clients(m)
	if err != nil || c == nil {
		if err == nil {
			err = fmt.Errorf("%w: ClientFactory returned nil", ErrConfig)
		}
		ce := &CallError{Op: "read health", Member: m.Name, Call: callHealth, Err: fmt.Errorf("client: %w", err)}
		return MemberHealth{Error: ce.Error()}
	}
	hctx, cancel := context.WithTimeout(ctx, a.readTimeout())
	defer cancel()
	h, err := c.Sys().HealthWithContext(hctx)
	if err != nil {
		return MemberHealth{Error: callErr("read health", m.Name, "", callHealth, c, err, false).Error()}
	}
	return MemberHealth{
		Reachable:          true,
		Initialized:        h.Initialized,
		Sealed:             h.Sealed,
		Standby:            h.Standby,
		PerformanceStandby: h.PerformanceStandby,
		Version:            h.Version,
	}
}
