package openbao

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/upgrade"
)

// Server is one entry of sys/storage/raft/configuration: a member of the
// Raft configuration as the active node sees it.
type Server struct {
	// NodeID is the Raft server ID (the pod name in the usual Helm or
	// operator deployment).
	NodeID string `json:"node_id"`
	// Address is the Raft (cluster) address, host:port.
	Address string `json:"address"`
	// Leader is true for the current leader.
	Leader bool `json:"leader"`
	// Voter is false for non-voters.
	Voter bool `json:"voter"`
	// ProtocolVersion is the Raft protocol version ("3").
	ProtocolVersion string `json:"protocol_version"`
}

// Configuration is the data of sys/storage/raft/configuration.
type Configuration struct {
	// Servers lists the Raft configuration, in the order OpenBao returned it.
	Servers []Server `json:"servers"`
	// Index is the log index of the configuration.
	Index uint64 `json:"index"`
}

// Autopilot server states (AutopilotServer.Status), as reported by
// hashicorp/raft-autopilot.
const (
	StatusLeader   = "leader"
	StatusVoter    = "voter"
	StatusNonVoter = "non-voter"
	StatusStaging  = "staging"
	StatusNone     = "none"
)

// AutopilotState is the data of sys/storage/raft/autopilot/state.
type AutopilotState struct {
	// Healthy is autopilot's overall verdict.
	Healthy bool `json:"healthy"`
	// FailureTolerance is how many voters may fail without losing quorum.
	FailureTolerance int `json:"failure_tolerance"`
	// OptimisticFailureTolerance counts non-voters that could be promoted.
	OptimisticFailureTolerance int `json:"optimistic_failure_tolerance,omitempty"`
	// Leader is the leader's node ID.
	Leader string `json:"leader"`
	// Voters are the voters' node IDs.
	Voters []string `json:"voters,omitempty"`
	// NonVoters are the non-voters' node IDs (not reported by every
	// release; AutopilotServer.Status is authoritative).
	NonVoters []string `json:"non_voters,omitempty"`
	// Servers are the servers autopilot knows, by node ID.
	Servers map[string]AutopilotServer `json:"servers"`
}

// AutopilotServer is autopilot's view of one server.
type AutopilotServer struct {
	// ID is the node ID.
	ID string `json:"id"`
	// Name is the node name (equal to ID on OpenBao).
	Name string `json:"name"`
	// Address is the Raft address.
	Address string `json:"address"`
	// NodeStatus is "alive", "left" or "failed".
	NodeStatus string `json:"node_status"`
	// LastContact is the time since the leader last heard from the server.
	// OpenBao sends it as a duration string ("1.5s", "0s"); meaningful only
	// when LastContactKnown.
	LastContact time.Duration `json:"last_contact"`
	// LastContactKnown is true when the answer carried last_contact (absent
	// or null leaves it false: a follower whose contact is not reported is
	// a member whose Raft state is unknown).
	LastContactKnown bool `json:"last_contact_known,omitempty"`
	// LastTerm is the term of the server's last log entry.
	LastTerm uint64 `json:"last_term"`
	// LastIndex is the server's last (applied) log index.
	LastIndex uint64 `json:"last_index"`
	// Healthy is autopilot's verdict for the server.
	Healthy bool `json:"healthy"`
	// StableSince is when the server last became healthy (zero if never).
	StableSince time.Time `json:"stable_since"`
	// Status is the server's Raft state: StatusLeader, StatusVoter,
	// StatusNonVoter, StatusStaging or StatusNone.
	Status string `json:"status"`
	// NodeType is the suffrage autopilot wants for the server ("voter";
	// empty or "non-voter" for permanent non-voters).
	NodeType string `json:"node_type,omitempty"`
	// Version is the OpenBao version the server runs.
	Version string `json:"version"`
	// UpgradeVersion is the version reported for autopilot upgrades.
	UpgradeVersion string `json:"upgrade_version,omitempty"`
}

// IsLeader reports whether autopilot sees the server as the leader.
func (s AutopilotServer) IsLeader() bool { return s.Status == StatusLeader }

// Suffrage derives the server's voting right from Status, falling back to
// NodeType when Status is empty (older releases). ok is false when the
// server is not in the Raft configuration (StatusNone) or nothing is known.
func (s AutopilotServer) Suffrage() (suffrage upgrade.Suffrage, ok bool) {
	switch s.Status {
	case StatusLeader, StatusVoter:
		return upgrade.Voter, true
	case StatusNonVoter, StatusStaging:
		return upgrade.Nonvoter, true
	case StatusNone:
		return "", false
	case "":
		switch s.NodeType {
		case "voter":
			return upgrade.Voter, true
		case "non-voter", "read-replica", "zone-extra-voter":
			return upgrade.Nonvoter, true
		}
	}
	return "", false
}

// DecodeConfiguration decodes a complete sys/storage/raft/configuration
// response body (the {"data": {"config": ...}} envelope). Errors wrap
// ErrMalformedResponse.
func DecodeConfiguration(body []byte) (Configuration, error) {
	data, err := decodeEnvelope(body)
	if err == nil {
		var cfg Configuration
		if cfg, err = configurationFromData(data); err == nil {
			return cfg, nil
		}
	}
	return Configuration{}, fmt.Errorf("openbao: decode raft configuration: %w", err)
}

// DecodeAutopilotState decodes a complete sys/storage/raft/autopilot/state
// response body. Errors wrap ErrMalformedResponse.
func DecodeAutopilotState(body []byte) (AutopilotState, error) {
	data, err := decodeEnvelope(body)
	if err == nil {
		var st AutopilotState
		if st, err = autopilotFromData(data); err == nil {
			return st, nil
		}
	}
	return AutopilotState{}, fmt.Errorf("openbao: decode autopilot state: %w", err)
}

// decodeEnvelope parses a response body the way the OpenBao client does and
// returns its data object.
func decodeEnvelope(body []byte) (map[string]any, error) {
	secret, err := api.ParseSecret(bytes.NewReader(body))
	if err != nil {
		return nil, malformed("response envelope: %w", err)
	}
	if secret == nil || secret.Data == nil {
		return nil, malformed("response has no data")
	}
	return secret.Data, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedResponse}, args...)...)
}

// remarshal turns the client's generic data map (numbers as json.Number)
// back into JSON, to decode it into typed structs with strict field types.
func remarshal(data map[string]any, out any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return malformed("re-encode data: %w", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return malformed("%w", err)
	}
	return nil
}

// configurationFromData decodes the data object of the configuration
// response.
func configurationFromData(data map[string]any) (Configuration, error) {
	var wire struct {
		Config *Configuration `json:"config"`
	}
	if err := remarshal(data, &wire); err != nil {
		return Configuration{}, err
	}
	if wire.Config == nil {
		return Configuration{}, malformed("raft configuration has no config object")
	}
	cfg := *wire.Config
	seen := make(map[string]bool, len(cfg.Servers))
	for i, s := range cfg.Servers {
		if s.NodeID == "" {
			return Configuration{}, malformed("raft configuration server %d has no node_id", i)
		}
		if seen[s.NodeID] {
			return Configuration{}, malformed("raft configuration lists node %q twice", s.NodeID)
		}
		seen[s.NodeID] = true
	}
	return cfg, nil
}

// wireAutopilotServer is AutopilotServer as OpenBao encodes it.
type wireAutopilotServer struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Address        string          `json:"address"`
	NodeStatus     string          `json:"node_status"`
	LastContact    json.RawMessage `json:"last_contact"`
	LastTerm       uint64          `json:"last_term"`
	LastIndex      uint64          `json:"last_index"`
	Healthy        bool            `json:"healthy"`
	StableSince    *string         `json:"stable_since"`
	Status         string          `json:"status"`
	NodeType       string          `json:"node_type"`
	Version        string          `json:"version"`
	UpgradeVersion string          `json:"upgrade_version"`
}

// autopilotFromData decodes the data object of the autopilot state response.
func autopilotFromData(data map[string]any) (AutopilotState, error) {
	var wire struct {
		Healthy                    bool                            `json:"healthy"`
		FailureTolerance           int                             `json:"failure_tolerance"`
		OptimisticFailureTolerance int                             `json:"optimistic_failure_tolerance"`
		Leader                     string                          `json:"leader"`
		Voters                     []string                        `json:"voters"`
		NonVoters                  []string                        `json:"non_voters"`
		Servers                    map[string]*wireAutopilotServer `json:"servers"`
	}
	if err := remarshal(data, &wire); err != nil {
		return AutopilotState{}, err
	}
	if wire.FailureTolerance < 0 || wire.FailureTolerance > math.MaxInt32 {
		return AutopilotState{}, malformed("autopilot failure_tolerance %d out of range", wire.FailureTolerance)
	}
	st := AutopilotState{
		Healthy:                    wire.Healthy,
		FailureTolerance:           wire.FailureTolerance,
		OptimisticFailureTolerance: wire.OptimisticFailureTolerance,
		Leader:                     wire.Leader,
		Voters:                     wire.Voters,
		NonVoters:                  wire.NonVoters,
		Servers:                    make(map[string]AutopilotServer, len(wire.Servers)),
	}
	keys := make([]string, 0, len(wire.Servers))
	for k := range wire.Servers {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic error reporting
	for _, key := range keys {
		w := wire.Servers[key]
		if w == nil {
			return AutopilotState{}, malformed("autopilot server %q is null", key)
		}
		id := w.ID
		if id == "" {
			id = key
		}
		if id != key {
			return AutopilotState{}, malformed("autopilot server key %q holds id %q", key, w.ID)
		}
		contact, known, err := parseLastContact(w.LastContact)
		if err != nil {
			return AutopilotState{}, malformed("autopilot server %q last_contact: %w", key, err)
		}
		var stable time.Time
		if w.StableSince != nil && *w.StableSince != "" {
			stable, err = time.Parse(time.RFC3339Nano, *w.StableSince)
			if err != nil {
				return AutopilotState{}, malformed("autopilot server %q stable_since: %w", key, err)
			}
		}
		st.Servers[key] = AutopilotServer{
			ID:               id,
			Name:             w.Name,
			Address:          w.Address,
			NodeStatus:       w.NodeStatus,
			LastContact:      contact,
			LastContactKnown: known,
			LastTerm:         w.LastTerm,
			LastIndex:        w.LastIndex,
			Healthy:          w.Healthy,
			StableSince:      stable,
			Status:           w.Status,
			NodeType:         w.NodeType,
			Version:          w.Version,
			UpgradeVersion:   w.UpgradeVersion,
		}
	}
	return st, nil
}

// parseLastContact accepts what OpenBao's ReadableDuration accepts: a Go
// duration string ("1.5s", "0s", "312.45ms"), a string of plain seconds
// ("10"), or a bare JSON number of nanoseconds. Absent, null or "" is not
// known (known false).
func parseLastContact(raw json.RawMessage) (d time.Duration, known bool, err error) {
	d, err = parseDuration(raw)
	if err != nil || d < 0 {
		return 0, false, err
	}
	return d, true, nil
}

// parseDuration is parseLastContact's decoding: -1 for absent values.
func parseDuration(raw json.RawMessage) (time.Duration, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return -1, nil
	}
	var d time.Duration
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, err
		}
		str = strings.TrimSpace(str)
		if str == "" {
			return -1, nil
		}
		var err error
		d, err = time.ParseDuration(str)
		if err != nil {
			secs, ferr := strconv.ParseFloat(str, 64)
			if ferr != nil {
				return 0, err
			}
			ns := secs * float64(time.Second)
			if math.IsNaN(ns) || math.IsInf(ns, 0) || math.Abs(ns) >= math.MaxInt64 {
				return 0, fmt.Errorf("duration %q out of range", str)
			}
			d = time.Duration(ns)
		}
	} else {
		ns, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("not a duration: %s", s)
		}
		if math.IsNaN(ns) || math.IsInf(ns, 0) || math.Abs(ns) >= math.MaxInt64 {
			return 0, fmt.Errorf("duration %s out of range", s)
		}
		d = time.Duration(ns)
	}
	if d < 0 {
		return 0, errors.New("negative duration")
	}
	return d, nil
}
