package openbaotest

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// Messages OpenBao answers with, as the emulator sends them.
const (
	// MsgNoActive is what a standby answers to a call it must forward when
	// the cluster has no active node.
	MsgNoActive = "local node not active but active cluster node not found"
	// MsgSealed is what a sealed or uninitialized server answers to any
	// call but sys/health.
	MsgSealed = "Vault is sealed"
	// MsgNotNonVoter is promote's answer for a server that is not marked a
	// non-voter (a voter, a promotion already requested, or a server that
	// joined through the API without keeping its non_voter flag).
	MsgNotNonVoter = "server is not a non-voter"
	// MsgAlreadyNonVoter is demote's answer for a server already marked a
	// non-voter (joined by itself, or demoted before).
	MsgAlreadyNonVoter = "server is already a non-voter"
	// MsgUnsupportedPath is the answer for a path the emulator does not
	// serve.
	MsgUnsupportedPath = "unsupported path"
)

// Paths served, without the /v1/ prefix.
const (
	pathHealth        = "sys/health"
	pathLeader        = "sys/leader"
	pathStepDown      = "sys/step-down"
	pathConfiguration = "sys/storage/raft/configuration"
	pathAutopilot     = "sys/storage/raft/autopilot/state"
	pathJoin          = "sys/storage/raft/join"
	pathPromote       = "sys/storage/raft/promote"
	pathDemote        = "sys/storage/raft/demote"
	pathRemovePeer    = "sys/storage/raft/remove-peer"
)

// reply is one HTTP answer; refuse drops the connection instead.
type reply struct {
	status int
	body   any // JSON-encoded; nil: no body
	refuse bool
}

// serve answers one request to the server of name (a member, or
// ActiveNode). The answer is computed under the lock, written outside it.
func (e *Emulator) serve(w http.ResponseWriter, r *http.Request, name string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e.mu.Lock()
	rep := e.answer(name, r.Method, strings.TrimPrefix(r.URL.Path, "/v1/"), r.URL.Query(), body)
	e.mu.Unlock()
	if rep.refuse {
		refuse(w)
		return
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	raw, err := json.Marshal(rep.body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = w.Write(raw)
}

// refuse resets the connection without answering, as a closed port does:
// the client reports a transport error, never an HTTP status.
func refuse(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // RST: connection reset, not a clean EOF
	}
	_ = conn.Close()
}

// errorReply is OpenBao's error answer. Handler errors are wrapped in a
// multierror ("1 error occurred:\n\t* ...\n\n"); multi is false for the
// answers OpenBao sends unwrapped (forwarding and seal errors).
func errorReply(status int, msg string, multi bool) reply {
	if multi {
		msg = "1 error occurred:\n\t* " + msg + "\n\n"
	}
	return reply{status: status, body: map[string][]string{"errors": {msg}}}
}

// server is the state of the answering server during one request.
type server struct {
	truth  upgrade.Observation
	self   upgrade.Member
	leader upgrade.Member // zero when none
	lead   bool           // a leader exists
}

// isLeader reports whether the answering server leads.
func (s *server) isLeader() bool { return s.lead && s.self.Name == s.leader.Name }

// answer computes the reply of the server of name to one request.
func (e *Emulator) answer(name, method, path string, q url.Values, body []byte) reply {
	e.requests[name+" "+method+" /v1/"+path]++
	if e.closed {
		return reply{refuse: true}
	}
	s := &server{truth: e.c.Truth()}
	s.leader, s.lead = s.truth.Leader()
	if name == ActiveNode {
		if !s.lead {
			return reply{refuse: true} // the active service has no endpoint
		}
		s.self = s.leader
	} else {
		m, ok := s.truth.Member(name)
		if !ok || !m.Pod.Exists || !m.Pod.Running {
			return reply{refuse: true} // no pod, or its process does not run
		}
		s.self = m
	}
	e.seq++
	write := method == http.MethodPut || method == http.MethodPost
	switch path {
	case pathHealth:
		if method != http.MethodGet && method != http.MethodHead {
			break
		}
		return e.health(s, q)
	case pathLeader, pathConfiguration, pathAutopilot:
		if method != http.MethodGet {
			break
		}
		if rep, ok := e.unsealed(s); !ok {
			return rep
		}
		switch path {
		case pathLeader:
			return e.leaderInfo(s)
		case pathConfiguration:
			return e.forwarded(s, e.configuration)
		default:
			return e.forwarded(s, e.autopilot)
		}
	case pathJoin:
		if !write {
			break
		}
		return e.join(s, body)
	case pathStepDown, pathPromote, pathDemote, pathRemovePeer:
		if !write {
			break
		}
		if rep, ok := e.unsealed(s); !ok {
			return rep
		}
		return e.forwarded(s, func(s *server) reply { return e.change(s, path, body) })
	default:
		return errorReply(http.StatusNotFound, MsgUnsupportedPath, true)
	}
	return errorReply(http.StatusMethodNotAllowed, "unsupported operation", true)
}

// unsealed fails calls to a sealed or uninitialized server.
func (e *Emulator) unsealed(s *server) (reply, bool) {
	if !e.initialized[s.self.Name] || e.sealed[s.self.Name] {
		return errorReply(http.StatusServiceUnavailable, MsgSealed, false), false
	}
	return reply{}, true
}

// forwarded runs f on the active node: at once on the leader, through a
// standby only while a leader exists and the standby is in the
// configuration (it forwards over the cluster port).
func (e *Emulator) forwarded(s *server, f func(s *server) reply) reply {
	if s.isLeader() || (s.lead && s.self.Raft.Present) {
		return f(s)
	}
	return errorReply(http.StatusInternalServerError, MsgNoActive, false)
}

// health is sys/health: the status code depends only on initialized,
// sealed and standby, each overridable by query parameter as OpenBao
// allows (the client sets them all to 299).
func (e *Emulator) health(s *server, q url.Values) reply {
	body := map[string]any{
		"initialized":                  true,
		"sealed":                       false,
		"standby":                      true,
		"performance_standby":          false,
		"replication_performance_mode": "disabled",
		"replication_dr_mode":          "disabled",
		"server_time_utc":              s.truth.Now.Unix(),
		"version":                      e.version(s.self),
	}
	var status int
	switch {
	case !e.initialized[s.self.Name]:
		status = code(q, "uninitcode", http.StatusNotImplemented)
		body["initialized"], body["sealed"] = false, true
	case e.sealed[s.self.Name]:
		status = code(q, "sealedcode", http.StatusServiceUnavailable)
		body["sealed"] = true
	case s.isLeader():
		status = code(q, "activecode", http.StatusOK)
		body["standby"] = false
	case flag(q, "standbyok"):
		status = code(q, "activecode", http.StatusOK)
	default:
		status = code(q, "standbycode", http.StatusTooManyRequests)
	}
	if body["initialized"] == true {
		body["cluster_name"], body["cluster_id"] = "vault-cluster-openbaotest", "00000000-0000-4000-8000-0000000000ba"
	} else {
		body["replication_performance_mode"], body["replication_dr_mode"] = "unknown", "unknown"
	}
	return reply{status: status, body: body}
}

// code is a status code query parameter, def when absent or invalid.
func code(q url.Values, name string, def int) int {
	if v, err := strconv.Atoi(q.Get(name)); err == nil && v >= 100 && v <= 999 {
		return v
	}
	return def
}

// flag is a boolean query parameter; present without a value is true.
func flag(q url.Values, name string) bool {
	vs, ok := q[name]
	if !ok {
		return false
	}
	if len(vs) == 0 || vs[0] == "" {
		return true
	}
	b, err := strconv.ParseBool(vs[0])
	return err == nil && b
}

// version is the version a member runs, or the last one it ran.
func (e *Emulator) version(m upgrade.Member) string {
	if m.Version != "" {
		return m.Version
	}
	return e.versions[m.Name]
}

// leaderInfo is sys/leader. The active node answers is_self; a standby
// names the current leader or, with none, the last one it knew (which may
// be dead), as OpenBao reports the leader recorded in storage.
func (e *Emulator) leaderInfo(s *server) reply {
	body := map[string]any{"ha_enabled": true}
	name := e.lastLeader
	if s.lead {
		name = s.leader.Name
	}
	if s.isLeader() {
		body["is_self"] = true
		body["active_time"] = e.activeSince.UTC().Format(timeLayout)
		body["raft_committed_index"] = s.truth.Raft.CommitIndex
		body["raft_applied_index"] = s.truth.Raft.CommitIndex
	} else {
		body["raft_committed_index"] = min(s.self.Raft.LastIndex, s.truth.Raft.CommitIndex)
		body["raft_applied_index"] = min(s.self.Raft.LastIndex, s.truth.Raft.CommitIndex)
	}
	if name != "" {
		body["leader_address"] = e.urlLocked(name)
		if m, ok := s.truth.Member(name); ok && m.Raft.Address != "" {
			body["leader_cluster_address"] = "https://" + m.Raft.Address
		}
	}
	return reply{status: http.StatusOK, body: body}
}

// join is sys/storage/raft/join on the joining server: it asks
// leader_api_addr for the challenge, which needs an active node behind
// it, then enters the configuration (fake.Cluster.Apply of JoinNonvoter).
// OpenBao 2.6 with a Shamir seal drops the non_voter flag on this path, so
// the server is not marked a permanent non-voter and autopilot
// (fake.Config.AutoPromoteTicks) promotes it once stable. A server already
// initialized answers joined without doing anything.
func (e *Emulator) join(s *server, body []byte) reply {
	if e.initialized[s.self.Name] {
		return reply{status: http.StatusOK, body: map[string]bool{"joined": true}}
	}
	var req struct {
		LeaderAPIAddr string `json:"leader_api_addr"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return errorReply(http.StatusBadRequest, "failed to parse join request: "+err.Error(), true)
	}
	if req.LeaderAPIAddr == "" {
		return errorReply(http.StatusBadRequest, "leader_api_addr is required", true)
	}
	if !e.reachesActive(s, req.LeaderAPIAddr) {
		return errorReply(http.StatusInternalServerError,
			"failed to join raft cluster: could not get the raft challenge from "+req.LeaderAPIAddr, true)
	}
	_, err := e.c.Apply([]upgrade.Action{upgrade.JoinNonvoter{Member: s.self.Name, ID: s.self.Raft.ID}})
	if err != nil {
		return errorReply(http.StatusInternalServerError, "failed to join raft cluster: "+applyMessage(err), true)
	}
	e.initialized[s.self.Name] = true
	e.track(e.c.Truth())
	return reply{status: http.StatusOK, body: map[string]bool{"joined": true}}
}

// reachesActive reports whether a join through addr reaches an active
// node: addr is the active endpoint or a member that is initialized,
// unsealed, running and in the configuration, and a leader exists.
func (e *Emulator) reachesActive(s *server, addr string) bool {
	if !s.lead {
		return false
	}
	name, ok := e.byURL[strings.TrimSuffix(addr, "/")]
	if !ok {
		return false
	}
	if name == ActiveNode {
		return true
	}
	m, ok := s.truth.Member(name)
	return ok && m.Pod.Exists && m.Pod.Running && m.Raft.Present && e.initialized[name] && !e.sealed[name]
}

// change is a write on the active node: step-down, promote, demote or
// remove-peer.
func (e *Emulator) change(s *server, path string, body []byte) reply {
	if path == pathStepDown {
		return e.apply(upgrade.StepDown{Member: s.leader.Name, ID: s.leader.Raft.ID})
	}
	var req struct {
		ServerID string `json:"server_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.ServerID == "" {
		return errorReply(http.StatusBadRequest, "server id must be provided", true)
	}
	var m upgrade.Member
	found := false
	for _, x := range s.truth.Members {
		if x.Raft.Present && x.Raft.ID == req.ServerID {
			m, found = x, true
			break
		}
	}
	if !found {
		if path == pathRemovePeer {
			return reply{status: http.StatusNoContent}
		}
		return errorReply(http.StatusInternalServerError, "server not found in the raft configuration", true)
	}
	id := m.Raft.ID
	switch path {
	case pathPromote:
		// Promote clears the permanent non-voter mark; autopilot applies
		// it at its next reconcile (fake.Config.MembershipDelayTicks). A
		// non-voter that is not marked is still promoted by autopilot, so
		// the request is passed on either way.
		// A marked voter is one whose demotion is pending: promote cancels it.
		marked := e.permanent[id]
		if marked || m.Raft.Suffrage == upgrade.Nonvoter {
			if rep := e.apply(upgrade.Promote{Member: m.Name, ID: id}); rep.status != http.StatusNoContent {
				return rep
			}
		}
		if !marked {
			return errorReply(http.StatusInternalServerError, MsgNotNonVoter, true)
		}
		delete(e.permanent, id)
		return reply{status: http.StatusNoContent}
	case pathDemote:
		if e.permanent[id] {
			return errorReply(http.StatusInternalServerError, MsgAlreadyNonVoter, true)
		}
		rep := e.apply(upgrade.Demote{Member: m.Name, ID: id})
		if rep.status == http.StatusNoContent {
			e.permanent[id] = true
		}
		return rep
	default:
		rep := e.apply(upgrade.RemovePeer{Member: m.Name, ID: id})
		if rep.status == http.StatusNoContent {
			delete(e.permanent, id)
		}
		return rep
	}
}

// apply applies one action to the cluster: 204, or OpenBao's 500.
func (e *Emulator) apply(a upgrade.Action) reply {
	if _, err := e.c.Apply([]upgrade.Action{a}); err != nil {
		if errors.Is(err, fake.ErrRejected) && strings.Contains(err.Error(), "no leader") {
			return errorReply(http.StatusInternalServerError, MsgNoActive, false)
		}
		return errorReply(http.StatusInternalServerError, applyMessage(err), true)
	}
	e.track(e.c.Truth())
	return reply{status: http.StatusNoContent}
}

// applyMessage is a cluster error without the fake's "fake: action N
// (Kind): " prefix.
func applyMessage(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "): "); ok {
		return rest
	}
	return msg
}
