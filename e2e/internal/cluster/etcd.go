package cluster

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// freePorts returns n distinct TCP ports that were free on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startEtcd starts a single-member embedded etcd on 127.0.0.1 random ports
// with its data in a test temporary directory and returns its client URL.
// It is stopped by t.Cleanup.
func startEtcd(t testing.TB) (string, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return "", err
		}
		client := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
		peer := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}

		cfg := embed.NewConfig()
		cfg.Name = "e2e"
		cfg.Dir = t.TempDir()
		cfg.UnsafeNoFsync = true
		cfg.ListenClientUrls = []url.URL{client}
		cfg.AdvertiseClientUrls = []url.URL{client}
		cfg.ListenPeerUrls = []url.URL{peer}
		cfg.AdvertisePeerUrls = []url.URL{peer}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.Logger = "zap"
		cfg.LogLevel = "error"
		if os.Getenv("E2E_VERBOSE") == "" {
			// Shutdown reports "use of closed network connection" as errors.
			cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		}

		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			continue // a port was taken between the probe and the bind
		}
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(60 * time.Second):
			e.Server.Stop()
			e.Close()
			return "", fmt.Errorf("embedded etcd took over 60s to start")
		}
		t.Cleanup(e.Close)
		return client.String(), nil
	}
	return "", fmt.Errorf("start embedded etcd: %w", lastErr)
}
