package cluster

import (
	"flag"
	"io"
	"os"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

var quietOnce sync.Once

// quietLogs silences the global klog output of the apiserver and the
// controller, and controller-runtime's logger, unless E2E_VERBOSE is set:
// they print tens of thousands of lines per test. Contextual loggers that
// write through t.Log (shown with -v or on failure) are unaffected.
func quietLogs() {
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
		ctrllog.SetLogger(logr.Discard())
	})
}
