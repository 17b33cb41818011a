package openbaotest

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// timeLayout is how OpenBao renders times (RFC 3339 with nanoseconds).
const timeLayout = time.RFC3339Nano

// envelope is OpenBao's logical response envelope.
type envelope struct {
	RequestID     string `json:"request_id"`
	LeaseID       string `json:"lease_id"`
	Renewable     bool   `json:"renewable"`
	LeaseDuration int    `json:"lease_duration"`
	Data          any    `json:"data"`
	WrapInfo      any    `json:"wrap_info"`
	Warnings      any    `json:"warnings"`
	Auth          any    `json:"auth"`
}

// data wraps a logical answer in the envelope, with a request ID counted
// from the emulator's requests (deterministic, no randomness).
func (e *Emulator) data(d any) reply {
	return reply{status: http.StatusOK, body: envelope{
		RequestID: fmt.Sprintf("00000000-0000-4000-8000-%012d", e.seq),
		Data:      d,
	}}
}

// wireServer is one server of sys/storage/raft/configuration.
type wireServer struct {
	NodeID          string `json:"node_id"`
	Address         string `json:"address"`
	Leader          bool   `json:"leader"`
	Voter           bool   `json:"voter"`
	ProtocolVersion string `json:"protocol_version"`
}

// configuration is sys/storage/raft/configuration, as the active node
// answers it: every server in the configuration, in member order.
func (e *Emulator) configuration(s *server) reply {
	servers := []wireServer{}
	for _, m := range s.truth.Members {
		if !m.Raft.Present {
			continue
		}
		servers = append(servers, wireServer{
			NodeID:          m.Raft.ID,
			Address:         m.Raft.Address,
			Leader:          s.lead && m.Name == s.leader.Name,
			Voter:           m.Raft.Suffrage == upgrade.Voter,
			ProtocolVersion: "3",
		})
	}
	return e.data(map[string]any{"config": map[string]any{"index": 0, "servers": servers}})
}

// wireAutopilotServer is one server of sys/storage/raft/autopilot/state,
// as physical/raft encodes it (last_contact a duration string).
type wireAutopilotServer struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Address     string `json:"address"`
	NodeStatus  string `json:"node_status"`
	LastContact string `json:"last_contact"`
	LastTerm    uint64 `json:"last_term"`
	LastIndex   uint64 `json:"last_index"`
	Healthy     bool   `json:"healthy"`
	StableSince string `json:"stable_since"`
	Status      string `json:"status"`
	Version     string `json:"version"`
	NodeType    string `json:"node_type"`
}

// autopilot is sys/storage/raft/autopilot/state, as the active node
// answers it: health, log position and last contact of every server in
// the configuration from the cluster's truth; node_type "non-voter" for
// servers marked permanent non-voters.
func (e *Emulator) autopilot(s *server) reply {
	servers := map[string]wireAutopilotServer{}
	voters, nonVoters := []string{}, []string{}
	for _, m := range s.truth.Members {
		if !m.Raft.Present {
			continue
		}
		w := wireAutopilotServer{
			ID:          m.Raft.ID,
			Name:        m.Raft.ID,
			Address:     m.Raft.Address,
			NodeStatus:  "alive",
			LastContact: m.Raft.LastContact.String(),
			LastTerm:    m.Raft.LastTerm,
			LastIndex:   m.Raft.LastIndex,
			Healthy:     m.Raft.Healthy,
			StableSince: m.Raft.StableSince.UTC().Format(timeLayout),
			Status:      "voter",
			Version:     e.version(m),
			NodeType:    "voter",
		}
		if !m.Pod.Exists || !m.Pod.Running || e.sealed[m.Name] {
			w.NodeStatus = "failed"
		}
		switch {
		case s.lead && m.Name == s.leader.Name:
			w.Status, w.LastContact = "leader", "0s"
		case m.Raft.Suffrage != upgrade.Voter:
			w.Status = "non-voter"
		}
		if e.permanent[m.Raft.ID] {
			w.NodeType = "non-voter"
		}
		if m.Raft.Suffrage == upgrade.Voter {
			voters = append(voters, m.Raft.ID)
		} else {
			nonVoters = append(nonVoters, m.Raft.ID)
		}
		servers[m.Raft.ID] = w
	}
	slices.Sort(voters)
	slices.Sort(nonVoters)
	return e.data(map[string]any{
		"healthy":                      s.truth.Raft.AutopilotHealthy,
		"failure_tolerance":            s.truth.Raft.FailureTolerance,
		"optimistic_failure_tolerance": s.truth.Raft.FailureTolerance,
		"leader":                       s.leader.Raft.ID,
		"voters":                       voters,
		"non_voters":                   nonVoters,
		"servers":                      servers,
	})
}
