package cluster

import (
	"flag"
	"io"
	"os"
	"sync"
	"testing"

	"k8s.io/klog/v2"
)

var quietOnce sync.Once

// quietLogs silences the global klog output of the apiserver and the
// controller unless E2E_VERBOSE is set: it is tens of thousands of lines per
// test. Contextual loggers that write through t.Log are unaffected.
func quietLogs(t testing.TB) {
	if os.Getenv("E2E_VERBOSE") != "" {
		return
	}
	quietOnce.Do(func() {
		fs := flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(fs)
		_ = fs.Set("logtostderr", "false")
		_ = fs.Set("alsologtostderr", "false")
		_ = fs.Set("stderrthreshold", "FATAL")
		klog.SetOutput(io.Discard)
		klog.LogToStderr(false)
	})
	_ = t
}
