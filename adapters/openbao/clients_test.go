package openbao_test

import (
	"context"
	"testing"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

func TestCloneFactory(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1")
	base := cl.node("bao-0").client()
	base.SetToken("s.cloned-token")
	f := openbao.CloneFactory(base, func(m upgrade.Member) string {
		if n := cl.node(m.Name); n != nil {
			return n.srv.URL
		}
		return ""
	})
	c1, err := f(upgrade.Member{Name: "bao-1"})
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := f(upgrade.Member{Name: "bao-1"}); again != c1 {
		t.Error("client not cached")
	}
	if c1.Address() != cl.node("bao-1").srv.URL || base.Address() != cl.node("bao-0").srv.URL {
		t.Errorf("addresses: clone %s base %s", c1.Address(), base.Address())
	}
	ad := &openbao.Adapter{Active: base, Clients: f}
	if err := ad.Execute(context.Background(), nil, upgrade.StepDown{Member: "bao-0"}); err != nil {
		t.Fatal(err)
	}
	reqs := cl.node("bao-0").requests()
	if len(reqs) != 2 || reqs[1].Token != "s.cloned-token" {
		t.Errorf("requests = %+v, want the base token on the clone", reqs)
	}
	if _, err := f(upgrade.Member{Name: "bao-9"}); err == nil {
		t.Error("member without address: no error")
	}
	if _, err := openbao.CloneFactory(nil, nil)(upgrade.Member{Name: "bao-0"}); err == nil {
		t.Error("nil base: no error")
	}
}

func TestMapFactory(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	c := cl.node("bao-0").client()
	f := openbao.MapFactory(map[string]*api.Client{"bao-0": c})
	if got, err := f(upgrade.Member{Name: "bao-0"}); err != nil || got != c {
		t.Errorf("bao-0: %v %v", got, err)
	}
	if _, err := f(upgrade.Member{Name: "bao-9"}); err == nil {
		t.Error("unknown member: no error")
	}
}
