package federation

import (
	"context"
	"net/http"
	"strings"
)

// Reading an outbox ahead. Its pages follow one another (each names the
// next), so a backfill used to wait for the origin to render a page, then
// parse it, then ask for the next one: one core at a time on each side.
// A Communs outbox sends the next page's address in a Link header before
// it renders the page's items; the follower asks for that page as soon as
// the header arrives, so the origin renders it while the follower still
// reads and parses the page before. At most one page is asked for ahead,
// and it is used only if the page's body names the same next page; other
// servers send no such header and are read one page at a time as before.

// pageFetch is an outbox page's signed GET under way.
type pageFetch struct {
	url    string
	done   chan struct{}
	resp   *http.Response
	err    error
	cancel context.CancelFunc
}

func (f *Federation) startPage(ctx context.Context, url string) *pageFetch {
	ctx, cancel := context.WithCancel(ctx)
	pf := &pageFetch{url: url, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(pf.done)
		pf.resp, pf.err = f.getSigned(ctx, url)
	}()
	return pf
}

// wait returns the answer once its headers are in.
func (pf *pageFetch) wait() (*http.Response, error) {
	<-pf.done
	return pf.resp, pf.err
}

// close ends the GET, read or not.
func (pf *pageFetch) close() {
	pf.cancel()
	<-pf.done
	if pf.resp != nil {
		pf.resp.Body.Close()
	}
}

// nextLink is the target of a Link header's rel="next", or "".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			target = strings.TrimSpace(target)
			if !ok || len(target) < 2 || target[0] != '<' || target[len(target)-1] != '>' {
				continue
			}
			for param := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(val, `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}
