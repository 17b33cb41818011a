package openbao

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

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
	// ErrNotJoined reports that a member expected to join the Raft
	// configuration by itself (JoinSelf) is not in it yet. It is not a
	// failure of the cluster: the strategy waits and asks again.
	ErrNotJoined = errors.New("not joined yet")
	// ErrNotInConfiguration reports a promote or demote of a server the Raft
	// configuration does not hold; nothing was sent.
	ErrNotInConfiguration = errors.New("server is not in the raft configuration")
	// ErrViewUnknown reports that no node answered the Raft configuration:
	// the cluster has no reachable active node (for example during an
	// election) and the view is unknown.
	ErrViewUnknown = errors.New("raft view unknown")
)

// ActiveNode is the name CallError uses for the client of the active node
// (Adapter.Active), which usually addresses a Kubernetes Service rather than
// one member.
const ActiveNode = "active node"

// CallError is a failed OpenBao API call. Its message is one line naming the
// operation, the member it concerned, the client it was sent through (when
// that is not the member itself), the endpoint and, when a response
// arrived, the HTTP status code and the first error message OpenBao gave,
// for example
//
//	openbao: step-down on bao-0 (PUT https://bao-0.bao-internal:8200/v1/sys/step-down): HTTP 500: local node not active but active cluster node not found
//	openbao: promote bao-3 via active node (PUT https://bao-active:8200/v1/sys/storage/raft/promote): HTTP 403: permission denied
//
// The client's own multi-line text (api.ResponseError) never appears in it;
// the *api.ResponseError stays reachable with errors.As.
type CallError struct {
	// Op is the operation ("step-down", "promote", "read raft configuration").
	Op string
	// Member is the member the operation concerns ("" for cluster-wide reads).
	Member string
	// Via is the client the call was sent through when it is not Member's
	// own client (ActiveNode for leader-only operations, or the member whose
	// client answered for the cluster).
	Via string
	// Call is the HTTP method and path ("PUT /v1/sys/step-down").
	Call string
	// Address is the address of the client the call was sent through
	// ("https://bao-0.bao-internal:8200"; "" when no client was built).
	Address string
	// StatusCode is the HTTP status of the response (0 when none arrived).
	StatusCode int
	// Err is the underlying error.
	Err error
}

// Error implements error. The message is always one line.
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
	return fmt.Sprintf("openbao: %s%s (%s): %s", e.Op, target, e.Endpoint(), oneLine(e.Err))
}

// Endpoint returns the method and URL of the call ("PUT
// https://bao-0:8200/v1/sys/step-down"), or Call when the address is not
// known.
func (e *CallError) Endpoint() string {
	method, path, ok := strings.Cut(e.Call, " ")
	if !ok || e.Address == "" {
		return e.Call
	}
	return method + " " + strings.TrimSuffix(e.Address, "/") + path
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

// callErr builds a *CallError, classifying err: HTTP 404/405 on an
// optional endpoint become ErrUnsupported, JSON decoding failures become
// ErrMalformedResponse. Both keep the original error in the chain. An
// *api.ResponseError is replaced by an *HTTPError that prints one line.
func callErr(op, member, via, call string, c *api.Client, err error, optional bool) *CallError {
	ce := &CallError{Op: op, Member: member, Via: via, Call: call, Err: err}
	if c != nil {
		ce.Address = c.Address()
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		ce.StatusCode = re.StatusCode
		he := &HTTPError{StatusCode: re.StatusCode, Message: firstMessage(re), Err: err}
		ce.Err = he
		if optional && (re.StatusCode == http.StatusNotFound || re.StatusCode == http.StatusMethodNotAllowed) {
			ce.Err = fmt.Errorf("%w: %w", ErrUnsupported, he)
		}
		return ce
	}
	if isDecodeError(err) && !errors.Is(err, ErrMalformedResponse) {
		ce.Err = fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	return ce
}

// HTTPError is an error answer of OpenBao: the status code and the first
// error message of the body, on one line. Err is the client's error (an
// *api.ResponseError in the chain).
type HTTPError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the first error message of the answer, without OpenBao's
	// multi-error decoration ("1 error occurred: * ...").
	Message string
	// Err is the client's error.
	Err error
}

// Error implements error: "HTTP 500: server is not a non-voter".
func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.StatusCode)
	}
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message)
}

// Unwrap returns the client's error.
func (e *HTTPError) Unwrap() error { return e.Err }

// maxMessage bounds the server message kept in an error (a proxy may answer
// with a whole HTML page).
const maxMessage = 200

// firstMessage extracts the first error message of an OpenBao error answer.
// OpenBao wraps handler errors in a multierror whose text is
//
//	1 error occurred:
//		* server is not a non-voter
//
// and the client prints each entry after "* "; both decorations are
// removed. A body that was not JSON (RawError) yields its first non-empty
// line.
func firstMessage(re *api.ResponseError) string {
	for _, raw := range re.Errors {
		if m := cleanMessage(raw); m != "" {
			return m
		}
	}
	return strings.ToLower(http.StatusText(re.StatusCode))
}

func cleanMessage(raw string) string {
	lines := strings.Split(raw, "\n")
	var first string
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if i == 0 && isMultiErrorHeader(l) {
			// Take the first "* item" that follows.
			for _, item := range lines[1:] {
				item = strings.TrimSpace(item)
				if rest, ok := strings.CutPrefix(item, "* "); ok && strings.TrimSpace(rest) != "" {
					return truncate(collapse(rest))
				}
			}
			continue
		}
		first = strings.TrimPrefix(l, "* ")
		break
	}
	return truncate(collapse(first))
}

// isMultiErrorHeader matches hashicorp/go-multierror's "1 error occurred:"
// and "2 errors occurred:".
func isMultiErrorHeader(l string) bool {
	return strings.HasSuffix(l, "error occurred:") || strings.HasSuffix(l, "errors occurred:")
}

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// collapse turns any run of whitespace (newlines, tabs) into one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// oneLine renders err on one line.
func oneLine(err error) string {
	if err == nil {
		return "unknown error"
	}
	return collapse(err.Error())
}

// isDecodeError reports whether err comes from decoding JSON.
func isDecodeError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF)
}

// answered reports whether a response arrived for the failed call (an HTTP
// error or a body that did not decode), as opposed to a transport failure
// (connection refused, timeout) after which the node is not asked again.
func answered(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) || errors.Is(err, ErrMalformedResponse) || isDecodeError(err)
}

// serverSays reports whether err is an HTTP error answer whose message
// contains text (case-insensitive).
func serverSays(err error, text string) bool {
	var he *HTTPError
	return errors.As(err, &he) && strings.Contains(strings.ToLower(he.Message), text)
}
