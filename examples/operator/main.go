package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/openbao/openbao/api/v2"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	addr := fs.String("openbao-address", os.Getenv("BAO_ADDR"),
		"default address of the OpenBao active node (env BAO_ADDR); RaftUpgrade spec.openbao.address overrides it")
	token := fs.String("openbao-token", "",
		"default OpenBao token (default: env BAO_TOKEN); spec.openbao.tokenSecretRef overrides it")
	member := fs.String("openbao-member-address", "https://{name}.bao-internal.{namespace}.svc:8200",
		"default address template of one member ({name}, {namespace})")
	snapshots := fs.String("snapshot-dir", "", "directory for pre-upgrade raft snapshots (empty: snapshots are refused)")
	metrics := fs.String("metrics-bind-address", ":8080", "metrics endpoint address (0 disables it)")
	probes := fs.String("health-probe-bind-address", ":8081", "health probe address")
	leaderElect := fs.Bool("leader-elect", true, "elect a leader so only one operator replica acts")
	leaderNS := fs.String("leader-election-namespace", os.Getenv("POD_NAMESPACE"),
		"namespace of the leader-election Lease (env POD_NAMESPACE; required with -leader-elect outside a cluster)")
	namespace := fs.String("namespace", "", "watch RaftUpgrades in this namespace only (empty: every namespace)")
	budgets := fs.Bool("disruption-budgets", true,
		"keep one PodDisruptionBudget per workload at the quorum-pinned minAvailable (upgrade.DisruptionBudget)")
	kubeContext := fs.String("context", "", "kubeconfig context to use (empty: the current context)")
	config.RegisterFlags(fs) // -kubeconfig
	klog.InitFlags(fs)       // -v, -logtostderr, ...
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(klog.NewKlogr())

	scheme, err := controller.NewScheme()
	if err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}

	// The api client reads BAO_ADDR, BAO_TOKEN, BAO_CACERT... itself;
	// flags win over the environment.
	baoCfg := api.DefaultConfig()
	if baoCfg.Error != nil {
		return fmt.Errorf("openbao client config: %w", baoCfg.Error)
	}
	if *addr != "" {
		baoCfg.Address = *addr
	}
	base, err := api.NewClient(baoCfg)
	if err != nil {
		return fmt.Errorf("openbao client: %w", err)
	}
	if *token != "" {
		base.SetToken(*token)
	}
	base.SetMaxRetries(0) // surface failures to the strategies at once

	restCfg, err := config.GetConfigWithContext(*kubeContext)
	if err != nil {
		return fmt.Errorf("kubernetes client config (set -kubeconfig or KUBECONFIG outside a cluster): %w", err)
	}
	if *leaderElect && *leaderNS == "" {
		if _, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err != nil {
			return fmt.Errorf("-leader-elect outside a cluster needs -leader-election-namespace (or -leader-elect=false)")
		}
	}
	opts := ctrl.Options{
		Scheme:                  scheme,
		HealthProbeBindAddress:  *probes,
		LeaderElection:          *leaderElect,
		LeaderElectionID:        "raftshift-operator.raftshift.io",
		LeaderElectionNamespace: *leaderNS,
		Metrics:                 metricsserver.Options{BindAddress: *metrics},
	}
	if *namespace != "" {
		opts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{*namespace: {}}}
	}
	mgr, err := ctrl.NewManager(restCfg, opts)
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	provider := &OpenBaoProvider{
		Base:          base,
		MemberAddress: *member,
		Secrets:       mgr.GetAPIReader(),
		SnapshotDir:   *snapshots,
	}
	r := &controller.Reconciler{
		Client:   mgr.GetClient(),
		Raft:     provider.Cluster,
		Recorder: mgr.GetEventRecorder("raftshift-operator"),

		DisruptionBudgets: *budgets,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up reconciler: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
