package etcd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Member is one entry of etcd's member list.
type Member struct {
	// ID is the etcd member ID (upgrade.MemberRaft.ID is its lowercase hex
	// form, as etcdctl prints it).
	ID uint64 `json:"id"`
	// Name is the member's name; empty until an added member has started
	// and published itself.
	Name string `json:"name,omitempty"`
	// PeerURLs are the member's Raft (peer) URLs.
	PeerURLs []string `json:"peerURLs,omitempty"`
	// ClientURLs are the member's advertised client URLs; empty until it
	// has started.
	ClientURLs []string `json:"clientURLs,omitempty"`
	// IsLearner is true for a learner (etcd's non-voter).
	IsLearner bool `json:"isLearner,omitempty"`
}

// Started reports whether the member has started and published its name
// and client URLs (an added member has neither until then).
func (m Member) Started() bool { return m.Name != "" || len(m.ClientURLs) > 0 }

// MemberList is etcd's member list.
type MemberList struct {
	// ClusterID is the cluster's ID.
	ClusterID uint64 `json:"clusterId"`
	// From is the ID of the member that answered.
	From uint64 `json:"from,omitempty"`
	// Members are the members in the order etcd listed them.
	Members []Member `json:"members"`
}

// Status is one member's Maintenance.Status answer.
type Status struct {
	// MemberID is the ID of the member that answered.
	MemberID uint64 `json:"memberId"`
	// ClusterID is the ID of its cluster.
	ClusterID uint64 `json:"clusterId,omitempty"`
	// Leader is the member ID of the leader as this member knows it (0:
	// none).
	Leader uint64 `json:"leader,omitempty"`
	// RaftTerm is the member's current Raft term.
	RaftTerm uint64 `json:"raftTerm"`
	// RaftIndex is the member's Raft commit index.
	RaftIndex uint64 `json:"raftIndex"`
	// RaftAppliedIndex is the member's applied index.
	RaftAppliedIndex uint64 `json:"raftAppliedIndex"`
	// IsLearner is true when the member is a learner.
	IsLearner bool `json:"isLearner,omitempty"`
	// Version is the etcd version the member runs.
	Version string `json:"version,omitempty"`
	// DBSize is the backend database size in bytes.
	DBSize int64 `json:"dbSize,omitempty"`
	// Errors are the member's own errors: "etcdserver: no leader", active
	// alarms such as "NOSPACE" and "CORRUPT".
	Errors []string `json:"errors,omitempty"`
}

// Endpoint is what Read learned from one listed member's endpoint.
type Endpoint struct {
	// MemberID is the listed member the endpoint belongs to.
	MemberID uint64 `json:"memberId"`
	// URL is the client URL asked ("" when the member has none: it has not
	// started).
	URL string `json:"url,omitempty"`
	// Status is the answer (nil when none arrived, or when the endpoint
	// answered for another member).
	Status *Status `json:"status,omitempty"`
	// Error says why Status is nil (one line).
	Error string `json:"error,omitempty"`
}

// State is everything the adapter read from etcd at one instant. Read
// produces it; Merge turns it into the Raft parts of an
// upgrade.Observation. A State is plain data: hosts may log it, persist it
// or build one by hand in tests. A State may be partial; Merge marks what
// it could not learn as unknown.
type State struct {
	// List is the member list (nil when no member answered it: the Raft
	// view is unknown).
	List *MemberList `json:"list,omitempty"`
	// Linearizable is true when the list was read linearizably (through
	// the leader). A serializable list is one member's local view, possibly
	// stale: Merge then reports the leader unknown.
	Linearizable bool `json:"linearizable,omitempty"`
	// Endpoints holds one entry per listed member, in list order.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// Errors lists every call of the read that failed, one line each, in
	// call order (for logs; the view already reflects them).
	Errors []string `json:"errors,omitempty"`
}

// status returns the Status answered for member id, or nil.
func (st *State) status(id uint64) *Status {
	for i := range st.Endpoints {
		if st.Endpoints[i].MemberID == id {
			return st.Endpoints[i].Status
		}
	}
	return nil
}

// ListFromResponse converts a clientv3 member list answer.
func ListFromResponse(r *clientv3.MemberListResponse) MemberList {
	var out MemberList
	if r == nil {
		return out
	}
	if r.Header != nil {
		out.ClusterID, out.From = r.Header.ClusterId, r.Header.MemberId
	}
	for _, m := range r.Members {
		if m == nil {
			continue
		}
		out.Members = append(out.Members, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
	}
	return out
}

// StatusFromResponse converts a clientv3 status answer.
func StatusFromResponse(r *clientv3.StatusResponse) Status {
	var out Status
	if r == nil {
		return out
	}
	if r.Header != nil {
		out.MemberID, out.ClusterID = r.Header.MemberId, r.Header.ClusterId
	}
	out.Leader, out.RaftTerm, out.RaftIndex, out.RaftAppliedIndex = r.Leader, r.RaftTerm, r.RaftIndex, r.RaftAppliedIndex
	out.IsLearner, out.Version, out.DBSize, out.Errors = r.IsLearner, r.Version, r.DbSize, r.Errors
	return out
}

// u64 decodes a uint64 sent as a JSON string (proto3 JSON, as etcd's
// grpc-gateway sends it) or a number.
type u64 uint64

func (v *u64) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an unsigned integer: %.40q", s)
	}
	*v = u64(n)
	return nil
}

// i64 is u64 for signed values.
type i64 int64

func (v *i64) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %.40q", s)
	}
	*v = i64(n)
	return nil
}

type gwHeader struct {
	ClusterID u64 `json:"cluster_id"`
	MemberID  u64 `json:"member_id"`
	RaftTerm  u64 `json:"raft_term"`
}

type gwMember struct {
	ID         u64      `json:"ID"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

// DecodeMemberList decodes the JSON answer of etcd's grpc-gateway to
// POST /v3/cluster/member/list (the shape of the fixtures in testdata,
// recorded from a real cluster). Every failure wraps ErrMalformedResponse:
// a body that is not that JSON object, no header, no members, a member
// without an ID or a peer URL, or two members with one ID.
func DecodeMemberList(body []byte) (MemberList, error) {
	var raw struct {
		Header  *gwHeader   `json:"header"`
		Members []*gwMember `json:"members"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return MemberList{}, malformed("member list: %v", err)
	}
	if raw.Header == nil {
		return MemberList{}, malformed("member list: no header")
	}
	if len(raw.Members) == 0 {
		return MemberList{}, malformed("member list: no members")
	}
	out := MemberList{ClusterID: uint64(raw.Header.ClusterID), From: uint64(raw.Header.MemberID)}
	seen := make(map[uint64]bool, len(raw.Members))
	for i, m := range raw.Members {
		switch {
		case m == nil || m.ID == 0:
			return MemberList{}, malformed("member list: member %d has no ID", i)
		case seen[uint64(m.ID)]:
			return MemberList{}, malformed("member list: ID %x listed twice", uint64(m.ID))
		case len(m.PeerURLs) == 0:
			return MemberList{}, malformed("member list: member %x has no peer URL", uint64(m.ID))
		}
		seen[uint64(m.ID)] = true
		out.Members = append(out.Members, Member{ID: uint64(m.ID), Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
	}
	return out, nil
}

// DecodeStatus decodes the JSON answer of etcd's grpc-gateway to POST
// /v3/maintenance/status. Every failure wraps ErrMalformedResponse: a body
// that is not that JSON object, or one without a header naming the member
// that answered.
func DecodeStatus(body []byte) (Status, error) {
	var raw struct {
		Header           *gwHeader `json:"header"`
		Version          string    `json:"version"`
		DBSize           i64       `json:"dbSize"`
		Leader           u64       `json:"leader"`
		RaftIndex        u64       `json:"raftIndex"`
		RaftTerm         u64       `json:"raftTerm"`
		RaftAppliedIndex u64       `json:"raftAppliedIndex"`
		Errors           []string  `json:"errors"`
		IsLearner        bool      `json:"isLearner"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Status{}, malformed("status: %v", err)
	}
	if raw.Header == nil || raw.Header.MemberID == 0 {
		return Status{}, malformed("status: no header naming the member")
	}
	return Status{MemberID: uint64(raw.Header.MemberID), ClusterID: uint64(raw.Header.ClusterID), Leader: uint64(raw.Leader),
		RaftTerm: uint64(raw.RaftTerm), RaftIndex: uint64(raw.RaftIndex), RaftAppliedIndex: uint64(raw.RaftAppliedIndex),
		IsLearner: raw.IsLearner, Version: raw.Version, DBSize: int64(raw.DBSize), Errors: raw.Errors}, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedResponse, oneLine(fmt.Sprintf(format, args...)))
}

// FormatID renders a member ID as etcdctl does (lowercase hex), the form
// upgrade.MemberRaft.ID holds.
func FormatID(id uint64) string { return strconv.FormatUint(id, 16) }

// ParseID parses a member ID in FormatID's form.
func ParseID(s string) (uint64, bool) {
	if s == "" || len(s) > 16 || strings.HasPrefix(s, "+") {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 16, 64)
	return id, err == nil && id != 0
}
