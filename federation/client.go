package federation

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// errForbiddenTarget is an outgoing request to where a peer must never
// send this node: a private, loopback or link-local address, or plain HTTP
// outside development mode. A hostile actor document could otherwise point
// the node at its own admin services (SSRF).
var errForbiddenTarget = errors.New("destination refused")

// specialNets are further ranges no peer lives in (IANA special-purpose
// registries): carrier-grade NAT (which holds some clouds' metadata
// services), benchmarking, "this network", reserved, the local-use NAT64
// prefix, documentation, unique local; and IPv6 forms that hide or reach an
// IPv4 address the checks above cannot see: IPv4-compatible ::a.b.c.d
// (deprecated; the kernel may route it to the IPv4 host), Teredo (a relay
// decides where it goes) and site-local fec0::/10 (deprecated, private by
// intent).
var specialNets = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
		"::/96", "64:ff9b:1::/48", "2001::/32", "2001:db8::/32", "fc00::/7", "fec0::/10"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// embeddingNets carry an IPv4 address a gateway connects to: NAT64
// (64:ff9b::/96, the last 32 bits; DNS64 gives public IPv4 peers such
// addresses on IPv6-only hosts, so it is allowed when the embedded address
// is), 6to4 (2002::/16, bits 16-47) and IPv4-translated (::ffff:0:0:0/96).
var embeddingNets = []struct {
	prefix netip.Prefix
	at     int // byte offset of the embedded IPv4 address
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12},
	{netip.MustParsePrefix("2002::/16"), 2},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), 12},
}

func forbiddenIP(ip net.IP) bool {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return true
	}
	return forbiddenAddr(addr.Unmap())
}

// forbiddenAddr checks an address and, for the IPv6 forms that embed an
// IPv4 address, the embedded one too.
func forbiddenAddr(addr netip.Addr) bool {
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsUnspecified() || addr.IsMulticast() || addr.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range specialNets {
		if p.Contains(addr) {
			return true
		}
	}
	if addr.Is6() {
		b := addr.As16()
		for _, e := range embeddingNets {
			if e.prefix.Contains(addr) {
				return forbiddenAddr(netip.AddrFrom4([4]byte(b[e.at : e.at+4])))
			}
		}
	}
	return false
}

// newHTTPClient returns the client for every outgoing federation request.
// The address check runs on the resolved IP at connect time, so DNS
// rebinding cannot slip a private address past it.
func newHTTPClient(dev bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		if dev {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		if forbiddenIP(net.ParseIP(host)) {
			return fmt.Errorf("%w: %s is a private, loopback or link-local address (start with --dev-federation for local tests)", errForbiddenTarget, host)
		}
		return nil
	}}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: dev, MinVersion: tls.VersionTLS12},
		MaxIdleConns:          200,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute, CheckRedirect: sameHostRedirects(dev)}
}

// newFileClient is the client for mirroring files: no overall timeout, since
// a large video on a slow link takes longer than any fixed bound; a stalled
// transfer is still cut by the transport's header and idle timeouts.
func newFileClient(base *http.Client) *http.Client {
	return &http.Client{Transport: base.Transport, CheckRedirect: base.CheckRedirect}
}

// sameHostRedirects follows at most 3 redirects, on the same host only:
// a document fetched from a peer must come from that peer. A hub redirects
// downloads of files it does not mirror to their origin, so a cross-host
// redirect would let any hub serve JSON under another hub's URLs.
func sameHostRedirects(dev bool) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
			return fmt.Errorf("%w: %s redirects to another host (%s)", errForbiddenTarget, via[0].URL.Host, req.URL.Host)
		}
		return checkScheme(req.URL.Scheme, dev)
	}
}

func checkScheme(scheme string, dev bool) error {
	if scheme == "https" || (dev && scheme == "http") {
		return nil
	}
	return fmt.Errorf("%w: %s:// (only https is used between hubs; --dev-federation allows http for local tests)", errForbiddenTarget, scheme)
}

const maxFetchBody = 4 << 20

// getJSON fetches an ActivityPub document with a signed GET (servers with
// authorized fetch refuse unsigned ones).
func (f *Federation) getJSON(ctx context.Context, rawURL string, out any) error {
	resp, err := f.getSigned(ctx, rawURL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readJSON(resp, rawURL, out)
}

// getSigned sends getJSON's signed GET and returns the answer as soon as
// its headers are in, a 200 (any other status is an error); the caller
// reads the body with readJSON and closes it.
func (f *Federation) getSigned(ctx context.Context, rawURL string) (*http.Response, error) {
	u, err := absURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := checkScheme(u.Scheme, f.dev); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", `application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"`)
	req.Header.Set("User-Agent", f.userAgent)
	if err := signRequest(req, f.key, f.urls.key(), nil, f.now()); err != nil {
		return nil, err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &fetchStatus{url: rawURL, status: resp.Status, code: resp.StatusCode}
	}
	return resp, nil
}

// readJSON decodes a document of at most maxFetchBody bytes.
func readJSON(resp *http.Response, rawURL string, out any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBody+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if len(data) > maxFetchBody {
		return fmt.Errorf("GET %s: document larger than %d bytes", rawURL, maxFetchBody)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("GET %s: not JSON: %w", rawURL, err)
	}
	return nil
}

// fetchFile opens a remote file for mirroring (unsigned: files are public).
func (f *Federation) fetchFile(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	u, err := absURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := checkScheme(u.Scheme, f.dev); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.userAgent)
	resp, err := f.files.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	return resp.Body, nil
}

// post delivers a signed activity.
func (f *Federation) post(ctx context.Context, inbox string, body []byte) error {
	u, err := absURL(inbox)
	if err != nil {
		return err
	}
	if err := checkScheme(u.Scheme, f.dev); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, inbox, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentTypeAS)
	req.Header.Set("User-Agent", f.userAgent)
	if err := signRequest(req, f.key, f.urls.key(), body, f.now()); err != nil {
		return err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", inbox, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 300 {
		return &deliveryError{status: resp.StatusCode, msg: fmt.Sprintf("POST %s: %s %s", inbox, resp.Status, strings.TrimSpace(string(msg)))}
	}
	return nil
}

// deliveryError keeps the status so permanent refusals (4xx but 429) are
// not retried for days.
type deliveryError struct {
	status int
	msg    string
}

func (e *deliveryError) Error() string { return e.msg }

func permanent(err error) bool {
	var de *deliveryError
	return errors.As(err, &de) && de.status >= 400 && de.status < 500 && de.status != http.StatusTooManyRequests &&
		de.status != http.StatusRequestTimeout && de.status != http.StatusUnauthorized
}
