package openbao

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// responseError builds the *api.ResponseError the OpenBao client builds for
// an error answer (api.Response.Error): the decoded "errors" list, or the
// raw body when it is not JSON.
func responseError(status int, body []byte) *api.ResponseError {
	re := &api.ResponseError{HTTPMethod: "PUT", URL: "https://bao-0:8200/v1/sys/storage/raft/promote", StatusCode: status}
	var resp api.ErrorResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&resp); err != nil {
		re.RawError = true
		re.Errors = []string{string(body)}
	} else {
		re.Errors = resp.Errors
	}
	return re
}

// FuzzErrorMessage feeds arbitrary error bodies through the extraction of
// OpenBao's first error message: whatever the body, the CallError is one
// line, bounded, names the status and keeps the client's error reachable.
func FuzzErrorMessage(f *testing.F) {
	for _, s := range []string{
		`{"errors":["1 error occurred:\n\t* server is not a non-voter\n\n"]}`,
		`{"errors":["2 errors occurred:\n\t* a\n\t* b\n\n"]}`,
		`{"errors":["1 error occurred:\n\n"]}`,
		`{"errors":[]}`,
		`{"errors":["", "  \t", "x"]}`,
		"<html>\n<body>bad gateway</body>\n</html>",
		"\r\n\r\n",
		`{"errors":["* * *"]}`,
		``,
	} {
		f.Add(500, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		re := responseError(status, body)
		ce := callErr("promote", "bao-3", ActiveNode, "PUT /v1/sys/storage/raft/promote", nil, re, true)
		msg := ce.Error()
		if strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("multi-line error %q", msg)
		}
		var he *HTTPError
		if !errors.As(ce, &he) || he.StatusCode != status || ce.StatusCode != status {
			t.Fatalf("status lost: %#v", ce.Err)
		}
		if len(he.Message) > maxMessage+3 {
			t.Fatalf("message of %d bytes", len(he.Message))
		}
		var got *api.ResponseError
		if !errors.As(ce, &got) || got != re {
			t.Fatal("client error not reachable")
		}
		if !strings.HasPrefix(msg, "openbao: promote bao-3 via active node (PUT /v1/sys/storage/raft/promote): ") {
			t.Fatalf("prefix lost: %q", msg)
		}
	})
}

func TestFirstMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"errors":["1 error occurred:\n\t* server is already a non-voter\n\n"]}`: "server is already a non-voter",
		`{"errors":["1 error occurred:\n\n", "next"]}`:                            "next",
		`{"errors":["line one\nline two"]}`:                                       "line one",
		`{"errors":["  spaced \t out  "]}`:                                        "spaced out",
		"plain text body":                                                         "plain text body",
		`{"errors":null}`:                                                         "internal server error",
	} {
		if got := firstMessage(responseError(500, []byte(body))); got != want {
			t.Errorf("firstMessage(%q) = %q, want %q", body, got, want)
		}
	}
}
