package etcd

import (
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Sentinel errors. Errors returned by this package wrap them (and, for
// failed calls, a *CallError wrapping the client's error, so etcd's own
// rpctypes errors stay reachable with errors.Is), so hosts can branch with
// errors.Is / errors.As.
var (
	// ErrUnsupported reports an operation etcd does not offer. It is the
	// standard library's errors.ErrUnsupported, so a generic host or test
	// kit can tell "this Raft system cannot do that" from a failure.
	ErrUnsupported = errors.ErrUnsupported
	// ErrDemoteUnsupported reports a Demote: etcd can promote a learner to
	// a voter but has no way back, so a voter can only leave the voter set
	// by being removed (see the package documentation). It wraps
	// ErrUnsupported; no call was made.
	ErrDemoteUnsupported = fmt.Errorf("%w: etcd cannot demote a voter to a learner", ErrUnsupported)
	// ErrNotRaftAction reports an action this adapter does not execute
	// (SetPartition, DeletePod, SwitchService, ...): hosts route those to
	// their workload adapter.
	ErrNotRaftAction = errors.New("not a raft action")
	// ErrConfig reports a missing client, dialer, sink or URL needed to run
	// a call; no request was made.
	ErrConfig = errors.New("adapter misconfigured")
	// ErrViewUnknown reports that no member answered the member list: the
	// Raft view is unknown and nothing was changed.
	ErrViewUnknown = errors.New("raft view unknown")
	// ErrNotLeader reports that the member a leadership move starts from
	// does not lead (any more): moving leadership away from whoever leads
	// now could move it from the wrong member, so nothing was done.
	ErrNotLeader = errors.New("member is not the leader")
	// ErrNotInCluster reports a promote or leadership move concerning a
	// member the member list does not hold; nothing was sent.
	ErrNotInCluster = errors.New("member is not in the cluster")
	// ErrNotVoter reports a leadership move to a learner, which etcd
	// refuses (a learner cannot lead); nothing was sent.
	ErrNotVoter = errors.New("member is not a voter")
	// ErrNoTransferee reports a StepDown without a caught-up voter to take
	// over; nothing was sent.
	ErrNoTransferee = errors.New("no voter can take over leadership")
	// ErrLearnerNotReady reports a learner etcd still refused to promote
	// because it is not in sync with the leader when the bounded retries
	// ran out.
	ErrLearnerNotReady = errors.New("learner not in sync with the leader")
	// ErrConflict reports a cluster in a state the action cannot reconcile:
	// the peer URL to join belongs to a voter, or an endpoint answers for
	// another member than the list says.
	ErrConflict = errors.New("conflicting cluster state")
	// ErrMalformedResponse reports an answer that is not the shape etcd
	// documents.
	ErrMalformedResponse = errors.New("malformed response")
)

// ClusterClient is the name CallError uses for Adapter.Client, which
// usually balances over several endpoints.
const ClusterClient = "cluster client"

// CallError is a failed etcd call. Its message is one line naming the
// member the call concerned, the operation, the call and the endpoint it
// went to, and etcd's error, for example
//
//	etcd: etcd-1: promote (Cluster.MemberPromote via cluster client): etcdserver: can only promote a learner member which is in sync with leader
//	etcd: etcd-0: transfer leadership to etcd-2 (Maintenance.MoveLeader at http://10.0.0.4:2379): etcdserver: not leader
type CallError struct {
	// Member is the member the operation concerns ("" for cluster-wide
	// reads).
	Member string
	// Op is the operation ("promote", "transfer leadership to etcd-2").
	Op string
	// Call is the client method ("Cluster.MemberPromote").
	Call string
	// Endpoint is the endpoint the call went to (ClusterClient for the
	// balanced client, "" when no call was sent).
	Endpoint string
	// Err is the underlying error.
	Err error
}

// Error implements error. The message is always one line.
func (e *CallError) Error() string {
	var b strings.Builder
	b.WriteString("etcd: ")
	if e.Member != "" {
		b.WriteString(e.Member)
		b.WriteString(": ")
	}
	b.WriteString(e.Op)
	if e.Call != "" {
		b.WriteString(" (")
		b.WriteString(e.Call)
		switch e.Endpoint {
		case "":
		case ClusterClient:
			b.WriteString(" via ")
			b.WriteString(e.Endpoint)
		default:
			b.WriteString(" at ")
			b.WriteString(e.Endpoint)
		}
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(oneLine(errText(e.Err)))
	return b.String()
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// maxMessage bounds the text of an error kept in a message.
const maxMessage = 300

// oneLine collapses whitespace runs (newlines included) into one space and
// bounds the length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// etcdSays reports whether err is etcd's error target (an rpctypes error),
// however the client wrapped it: the error itself, or an error in its
// chain whose gRPC message is target's or ends with it (etcd's messages
// prefix one another: "can only promote a learner member" and "... which
// is in sync with leader", so a substring test would confuse them).
func etcdSays(err, target error) bool {
	desc := rpctypes.ErrorDesc(target)
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Is(e, target) || strings.HasSuffix(rpctypes.ErrorDesc(e), desc) {
			return true
		}
	}
	return false
}
