package federation

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-fed/httpsig"
)

// Headers signed on outgoing requests: what Mastodon requires (and, for
// GETs under authorized fetch, the same minus the body's digest).
var (
	postHeaders = []string{httpsig.RequestTarget, "host", "date", "digest"}
	getHeaders  = []string{httpsig.RequestTarget, "host", "date"}
)

// maxSkew bounds how far a signed Date may be from our clock.
const maxSkew = time.Hour

// SignRequest signs req as ActivityPub servers expect: (request-target),
// host, date and, with a body, its digest. body is nil for a GET.
func SignRequest(req *http.Request, key *rsa.PrivateKey, keyID string, body []byte) error {
	return signRequest(req, key, keyID, body, time.Now())
}

// signRequest signs req with the actor's key; body is nil for a GET.
func signRequest(req *http.Request, key *rsa.PrivateKey, keyID string, body []byte, now time.Time) error {
	req.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	req.Header.Set("Host", req.URL.Host)
	headers := getHeaders
	if body != nil {
		headers = postHeaders
	}
	// A Signer is not safe for concurrent use: one per request.
	signer, _, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256, headers, httpsig.Signature, 0)
	if err != nil {
		return err
	}
	return signer.SignRequest(key, keyID, req, body)
}

var errSignature = errors.New("signature refused")

// signedKeyID checks what a request's signature covers and returns the key
// id; the cryptographic check comes once the key is known.
func signedKeyID(r *http.Request, body []byte, now time.Time) (string, httpsig.Verifier, error) {
	sig := r.Header.Get("Signature")
	if sig == "" {
		if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Signature "); ok {
			sig = auth
		}
	}
	if sig == "" {
		return "", nil, fmt.Errorf("%w: no Signature header; sign with (request-target) host date digest", errSignature)
	}
	// Read the parameters exactly as go-fed's verifier does (split on every
	// comma, the last "headers" wins), so the headers checked here are the
	// ones it verifies; a comma inside a quoted value is refused.
	signed := map[string]bool{}
	if len(splitParams(sig)) != len(strings.Split(sig, ",")) {
		return "", nil, fmt.Errorf("%w: a Signature parameter holds a comma", errSignature)
	}
	headersParam := ""
	for _, part := range strings.Split(sig, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "headers" {
			headersParam = strings.Trim(v, `"`)
		}
	}
	for _, h := range strings.Fields(headersParam) {
		signed[strings.ToLower(h)] = true
	}
	need := getHeaders
	if r.Method == http.MethodPost {
		need = postHeaders
	}
	for _, h := range need {
		if !signed[h] {
			return "", nil, fmt.Errorf("%w: the signature must cover %s (covers %v)", errSignature, strings.Join(need, " "), keys(signed))
		}
	}
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return "", nil, fmt.Errorf("%w: missing or bad Date header", errSignature)
	}
	if d := now.Sub(date); d > maxSkew || d < -maxSkew {
		return "", nil, fmt.Errorf("%w: Date %s is more than %s from this node's clock", errSignature, r.Header.Get("Date"), maxSkew)
	}
	if r.Method == http.MethodPost {
		if err := checkDigest(r.Header.Get("Digest"), body); err != nil {
			return "", nil, err
		}
	}
	v, err := httpsig.NewVerifier(r)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errSignature, err)
	}
	return v.KeyId(), v, nil
}

func checkDigest(header string, body []byte) error {
	sum := sha256.Sum256(body)
	want := base64.StdEncoding.EncodeToString(sum[:])
	for _, part := range strings.Split(header, ",") {
		alg, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(alg, "SHA-256") {
			if val == want {
				return nil
			}
			return fmt.Errorf("%w: Digest does not match the body", errSignature)
		}
	}
	return fmt.Errorf("%w: no SHA-256 Digest header", errSignature)
}

func verify(v httpsig.Verifier, pemKey string) error {
	pub, err := parsePublicPEM(pemKey)
	if err != nil {
		return fmt.Errorf("%w: %v", errSignature, err)
	}
	if err := v.Verify(pub, httpsig.RSA_SHA256); err != nil {
		return fmt.Errorf("%w: %v", errSignature, err)
	}
	return nil
}

// splitParams splits a Signature header on commas outside quotes.
func splitParams(s string) []string {
	var out []string
	var cur bytes.Buffer
	quoted := false
	for _, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
			cur.WriteRune(c)
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
