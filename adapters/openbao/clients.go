package openbao

import (
	"errors"
	"fmt"
	"sync"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/upgrade"
)

// CloneFactory returns a ClientFactory that clones base (its configuration,
// token and headers; the HTTP client and its connection pool are shared)
// and points the clone at address(m), for example
//
//	func(m upgrade.Member) string { return "https://" + m.Name + ".bao-internal:8200" }
//
// Clients are cached by address, so repeated calls are cheap.
func CloneFactory(base *api.Client, address func(m upgrade.Member) string) ClientFactory {
	var mu sync.Mutex
	cache := map[string]*api.Client{}
	return func(m upgrade.Member) (*api.Client, error) {
		if base == nil || address == nil {
			return nil, errors.New("clone factory needs a base client and an address func")
		}
		addr := address(m)
		if addr == "" {
			return nil, fmt.Errorf("no address for member %s", m.Name)
		}
		mu.Lock()
		defer mu.Unlock()
		if c, ok := cache[addr]; ok {
			return c, nil
		}
		c, err := base.CloneWithHeaders()
		if err != nil {
			return nil, err
		}
		c.SetToken(base.Token())
		if err := c.SetAddress(addr); err != nil {
			return nil, err
		}
		cache[addr] = c
		return c, nil
	}
}

// MapFactory returns a ClientFactory that looks clients up by member name.
func MapFactory(clients map[string]*api.Client) ClientFactory {
	return func(m upgrade.Member) (*api.Client, error) {
		c, ok := clients[m.Name]
		if !ok || c == nil {
			return nil, fmt.Errorf("no client for member %s", m.Name)
		}
		return c, nil
	}
}
