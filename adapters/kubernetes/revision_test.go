package kubernetes

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestRevisionVersions(t *testing.T) {
	revs := []appsv1.ControllerRevision{
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-aaa"}, Revision: 1, Data: runtime.RawExtension{Raw: []byte(
			`{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app.kubernetes.io/version":"2.3.1"}},` +
				`"spec":{"containers":[{"name":"openbao","image":"openbao/openbao:2.3.1"},{"name":"sidecar","image":"busybox:1.36"}]}}}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-bbb"}, Revision: 2, Data: runtime.RawExtension{Raw: []byte(
			`{"spec":{"template":{"$patch":"replace","spec":{"containers":[{"name":"openbao","image":"openbao/openbao:2.4.0"}]}}}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-bad"}, Data: runtime.RawExtension{Raw: []byte(`{"spec":`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-empty"}},
	}
	got, err := revisionVersions(revs, testConfig())
	if err == nil || !strings.Contains(err.Error(), "bao-bad") {
		t.Fatalf("err = %v, want a decode error naming bao-bad", err)
	}
	want := map[string]revisionInfo{
		"bao-aaa": {Image: "openbao/openbao:2.3.1", Version: "2.3.1"},
		"bao-bbb": {Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("revisions (-want +got):\n%s", d)
	}
}
