package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
)

// OpenFederation returns the node's ActivityPub side, or nil (with the
// reason) when the public URL cannot federate: other hubs only reach
// https URLs, so `make run` on http://localhost serves without it.
func OpenFederation(cfg Config, svc *node.Service, st *Stores, log *slog.Logger) (*federation.Federation, string, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil {
		return nil, "", fmt.Errorf("--public-url %q: %w", cfg.PublicURL, err)
	}
	if u.Scheme != "https" && !cfg.DevFederation {
		return nil, "public URL " + cfg.PublicURL + " is not https (set --public-url https://..., or --dev-federation for local tests)", nil
	}
	f, err := federation.New(federation.Config{
		PublicURL: cfg.PublicURL, Username: cfg.Hub, Name: cfg.Name, Summary: cfg.Description,
		Service: svc, Store: st.Catalog, Feed: st.Catalog, DataDir: cfg.Data, Dev: cfg.DevFederation,
		FollowPolicy: cfg.FollowPolicy, Logger: log, Version: cfg.Version, Profile: cfg.profile,
		FollowersPerHost: followersCap(cfg.MaxFollowersPerHost), DeliveryTimeout: cfg.DeliveryTimeout,
		RetryBase: cfg.RetryBase,
	})
	if err != nil {
		return nil, "", err
	}
	svc.SetReportForwarder(f.ForwardReport)
	svc.SetSharer(f)
	svc.SetFileFetcher(f.FetchFile)
	return f, "", nil
}

// followersCap maps --max-followers-per-host (0: no cap) to the
// federation's setting (negative: no cap).
func followersCap(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// peerInfos shows the pages the hubs this node federates with (accounts
// from the wider fediverse that follow it are not hubs, but are listed
// too: the admin chose to accept them).
func peerInfos(f *federation.Federation) func(ctx context.Context) ([]web.PeerInfo, error) {
	return func(ctx context.Context) ([]web.PeerInfo, error) {
		peers, err := f.Peers(ctx)
		if err != nil {
			return nil, err
		}
		var out []web.PeerInfo
		for _, p := range peers {
			following, follower := p.Following == state.StateAccepted, p.Follower == state.StateAccepted
			if !following && !follower {
				continue
			}
			name := p.Name
			if name == "" {
				name = p.Handle
			}
			home := p.ActorID
			if u, err := url.Parse(p.ActorID); err == nil {
				home = u.Scheme + "://" + u.Host + "/"
			}
			out = append(out, web.PeerInfo{Name: name, URL: home, Host: p.Host, Following: following, Follower: follower})
		}
		return out, nil
	}
}
