package openbao

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/openbao/openbao/api/v2"
)

// Sentinel errors. Errors returned by this package wrap them (and, for failed
// calls, a *CallError wrapping the client's error), so hosts can branch with
// errors.Is / errors.As. Their text carries no "openbao:" prefix because the
// wrapping message already starts with it.
var (
	// ErrUnsupported reports an operation OpenBao does not offer: targeted
	// leadership transfer, or promote / demote on servers older than the
	// release that added sys/storage/raft/promote and /demote.
	ErrUnsupported = errors.New("operation not supported")
	// ErrNotRaftAction reports an action this adapter does not execute
	// (SetPartition, DeletePod, SwitchService, ...). Hosts route those to the
	// Kubernetes adapter.
	ErrNotRaftAction = errors.New("not a raft action")
	// ErrNotLeader reports that a StepDown target is not the active node any
	// more: stepping down whichever node is active now could remove
	// leadership from the wrong server, so nothing was done.
	ErrNotLeader = errors.New("member is not the active node")
	// ErrMalformedResponse reports a response body that is not the JSON shape
	// OpenBao documents.
	ErrMalformedResponse = errors.New("malformed response")
	// ErrConfig reports a missing client, sink or identifier needed to run a
	// call; no request was made.
	ErrConfig = errors.New("adapter misconfigured")
)

// ActiveNode is the name CallError uses for the client of the active node
// (Adapter.Active), which usually addresses a Kubernetes Service rather than
// one member.
const ActiveNode = "active node"

// CallError is a failed OpenBao API call. Its message names the operation,
// the member it concerned, the client it was sent through (when that is not
// the member itself) and the HTTP call, for example
//
//	openbao: step-down on bao-0 (PUT /v1/sys/step-down): ...
//	openbao: promote bao-3 via active node (PUT /v1/sys/storage/raft/promote): ...
type CallError struct {
	// Op is the operation ("step-down", "promote", "read raft configuration").
	Op string
	// Member is the member the operation concerns ("" for cluster-wide reads).
	Member string
	// Via is the client the call was sent through when it is not Member's
	// own client (ActiveNode for leader-only operations).
	Via string
	// Call is the HTTP method and path ("PUT /v1/sys/step-down").
	Call string
	// StatusCode is the HTTP status of the response (0 when none arrived).
	StatusCode int
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *CallError) Error() string {
	var target string
	switch {
	case e.Member != "" && e.Via != "":
		target = " " + e.Member + " via " + e.Via
	case e.Member != "":
		target = " on " + e.Member
	case e.Via != "":
		target = " on " + e.Via
	}
	return fmt.Sprintf("openbao: %s%s (%s): %v", e.Op, target, e.Call, e.Err)
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

// callErr builds a *CallError, classifying err: HTTP 404/405 on an
// optional endpoint become ErrUnsupported, JSON decoding failures become
// ErrMalformedResponse. Both keep the original error in the chain.
func callErr(op, member, via, call string, err error, optional bool) error {
	ce := &CallError{Op: op, Member: member, Via: via, Call: call, Err: err}
	var re *api.ResponseError
	if errors.As(err, &re) {
		ce.StatusCode = re.StatusCode
		if optional && (re.StatusCode == http.StatusNotFound || re.StatusCode == http.StatusMethodNotAllowed) {
			ce.Err = fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return ce
	}
	if isDecodeError(err) && !errors.Is(err, ErrMalformedResponse) {
		ce.Err = fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	return ce
}

// isDecodeError reports whether err comes from decoding JSON.
func isDecodeError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF)
}
