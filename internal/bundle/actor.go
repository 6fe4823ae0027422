package bundle

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxActorSize bounds an actor document read for its key.
const MaxActorSize = 1 << 20

// ActorKey is the key an ActivityPub actor publishes.
type ActorKey struct {
	Actor string // the actor's id
	KeyID string
	PEM   string
	Key   *rsa.PublicKey
}

// FetchActorKey GETs the actor document at actorURL (a key id's fragment
// is dropped) and returns the RSA key it publishes. The URL must be https,
// or http on a loopback host (a hub under test); a redirect may not leave
// the host; the answer is read up to MaxActorSize; the whole exchange
// takes at most timeout. client nil means a fresh client.
func FetchActorKey(ctx context.Context, client *http.Client, actorURL string, timeout time.Duration) (ActorKey, error) {
	actorURL, _, _ = strings.Cut(actorURL, "#")
	u, err := url.Parse(actorURL)
	if err != nil || u.Host == "" {
		return ActorKey{}, fmt.Errorf("%q is not an absolute URL", actorURL)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())) {
		return ActorKey{}, fmt.Errorf("%s: only https (or http on this machine) is accepted: a key fetched in clear could be replaced on the way", actorURL)
	}
	c := http.Client{Timeout: timeout}
	if client != nil {
		c = *client
		c.Timeout = timeout
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if req.URL.Host != u.Host || req.URL.Scheme != u.Scheme {
			return fmt.Errorf("redirected to another host (%s)", req.URL.Host)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, actorURL, nil)
	if err != nil {
		return ActorKey{}, err
	}
	req.Header.Set("Accept", `application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"`)
	resp, err := c.Do(req)
	if err != nil {
		return ActorKey{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ActorKey{}, fmt.Errorf("%s answered %s", actorURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxActorSize+1))
	if err != nil {
		return ActorKey{}, fmt.Errorf("read %s: %w", actorURL, err)
	}
	if len(body) > MaxActorSize {
		return ActorKey{}, fmt.Errorf("%s: an actor document over %d bytes", actorURL, MaxActorSize)
	}
	var doc struct {
		ID        string `json:"id"`
		PublicKey struct {
			ID    string `json:"id"`
			Owner string `json:"owner"`
			PEM   string `json:"publicKeyPem"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return ActorKey{}, fmt.Errorf("%s: not an actor document (%v)", actorURL, err)
	}
	if doc.PublicKey.PEM == "" || doc.PublicKey.ID == "" {
		return ActorKey{}, fmt.Errorf("%s publishes no public key", actorURL)
	}
	if doc.ID == "" || (doc.PublicKey.Owner != "" && doc.PublicKey.Owner != doc.ID) {
		return ActorKey{}, fmt.Errorf("%s: its key is not its own (owner %q)", actorURL, doc.PublicKey.Owner)
	}
	for _, id := range []string{doc.ID, doc.PublicKey.ID} {
		if v, err := url.Parse(id); err != nil || v.Host != u.Host {
			return ActorKey{}, fmt.Errorf("%s: id %q is on another host", actorURL, id)
		}
	}
	k, err := ParsePublicKeyPEM([]byte(doc.PublicKey.PEM))
	if err != nil {
		return ActorKey{}, fmt.Errorf("%s: public key: %w", actorURL, err)
	}
	return ActorKey{Actor: doc.ID, KeyID: doc.PublicKey.ID, PEM: doc.PublicKey.PEM, Key: k}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
