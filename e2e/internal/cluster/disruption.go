package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/kubernetes/pkg/controller/disruption"
)

// StartDisruptionController runs the real disruption controller of
// k8s.io/kubernetes (the one kube-controller-manager runs) beside the
// StatefulSet controller: it keeps every PodDisruptionBudget's status
// (currentHealthy, desiredHealthy, disruptionsAllowed, observedGeneration)
// up to date, which the eviction API checks on every eviction. It stops
// with the control plane.
func (cp *ControlPlane) StartDisruptionController(t *testing.T) {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	cs := kubernetes.NewForConfigOrDie(rest.AddUserAgent(cfg, "disruption-controller"))
	factory := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(rest.AddUserAgent(cfg, "disruption-informers")), 0)
	discovery := memory.NewMemCacheClient(cs.Discovery())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(discovery)
	scales, err := scale.NewForConfig(cfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(cs.Discovery()))
	if err != nil {
		t.Fatalf("scale client: %v", err)
	}
	ctx, cancel := context.WithCancel(cp.ctx)
	dc := disruption.NewDisruptionController(ctx,
		factory.Core().V1().Pods(),
		factory.Policy().V1().PodDisruptionBudgets(),
		factory.Core().V1().ReplicationControllers(),
		factory.Apps().V1().ReplicaSets(),
		factory.Apps().V1().Deployments(),
		factory.Apps().V1().StatefulSets(),
		cs, mapper, scales, cs.Discovery())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		dc.Run(ctx, 2)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
}

// Webhook is an admission webhook served over TLS on 127.0.0.1 by the test
// process, with a self-signed CA the kube-apiserver is given in the webhook
// configuration.
type Webhook struct {
	// URL is the server's base URL (https://127.0.0.1:<port>).
	URL string
	// CABundle is the PEM of the CA that signed the serving certificate.
	CABundle []byte
}

// ServeWebhook serves handler over TLS on 127.0.0.1 with a fresh
// self-signed CA and a serving certificate for 127.0.0.1 (an IP SAN: the
// kube-apiserver verifies it). The server stops when the test ends.
func ServeWebhook(t *testing.T, handler http.Handler) *Webhook {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "raftshift e2e webhook CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &Webhook{URL: srv.URL, CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
}

// RegisterEvictionWebhook creates a ValidatingWebhookConfiguration named
// name that sends every pods/eviction CREATE in namespaces labelled
// nsLabel=true to the webhook at path (failurePolicy Fail, side effects
// NoneOnDryRun, as adapters/kubernetes/config/webhook/eviction.yaml). The
// kube-apiserver picks it up asynchronously: wait for it before relying
// on it.
func (cp *ControlPlane) RegisterEvictionWebhook(t *testing.T, name string, w *Webhook, path, nsLabel string) {
	t.Helper()
	url := w.URL + path
	fail := admissionregistrationv1.Fail
	side := admissionregistrationv1.SideEffectClassNoneOnDryRun
	scope := admissionregistrationv1.NamespacedScope
	timeout := int32(10)
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "eviction.raftshift.io",
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             &side,
			FailurePolicy:           &fail,
			TimeoutSeconds:          &timeout,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: w.CABundle},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
					Resources: []string{"pods/eviction"}, Scope: &scope},
			}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{nsLabel: "true"}},
		}},
	}
	if _, err := cp.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(cp.ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create validating webhook configuration: %v", err)
	}
}

// LabelNamespace sets a label on the RaftSet's namespace.
func (rs *RaftSet) LabelNamespace(ctx context.Context, key, value string) error {
	ns, err := rs.CP.Client.CoreV1().Namespaces().Get(ctx, rs.Namespace, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[key] = value
	_, err = rs.CP.Client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
	return err
}
