package federation

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Reports between hubs: a report about a copy is sent to the copy's origin
// as a Flag (object: the origin's object id, content: the message, reason:
// the Communs reason). The reporter's contact never leaves the node that
// took the report. The origin takes Flags only about its own resources.

// ForwardReport queues a signed Flag of r to the origin hub of res, a copy.
// The node calls it after storing a report (node.Service.SetReportForwarder).
func (f *Federation) ForwardReport(ctx context.Context, res node.Resource, r node.Report) error {
	if res.Local() {
		return nil
	}
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		return fmt.Errorf("forward report %s: %w", r.ID, err)
	}
	var inbox, actor string
	for _, p := range peers {
		if strings.HasPrefix(res.Origin, originPrefix(p)) {
			inbox, actor = p.Inbox, p.ActorID
			break
		}
	}
	if inbox == "" {
		return fmt.Errorf("forward report %s: no known hub for %s: %w", r.ID, res.Origin, node.ErrNotFound)
	}
	act, err := activity("Flag", f.urls.activity("flag", r.ID), f.urls.actor(), res.Origin, []string{actor}, nil)
	if err != nil {
		return err
	}
	act["content"] = r.Message // never r.Contact
	act["reason"] = r.Reason
	return f.enqueue(ctx, act, []string{inbox})
}

// flagTarget is the id of the local resource a Flag names, or a 4xx: a
// Flag about an object on another host, an unknown resource or a copy is
// refused at the inbox, before it is recorded.
func (f *Federation) flagTarget(ctx context.Context, act incoming) (string, error) {
	prefix := paths.Base(f.urls.base).URL(paths.ResourcePrefix)
	rest, ok := strings.CutPrefix(act.ObjectID, prefix)
	if !ok || rest == "" || strings.ContainsAny(rest, "?#") {
		return "", httperr.Status(http.StatusBadRequest, fmt.Errorf("flag object %s is not a resource of this hub", act.ObjectID))
	}
	id, err := url.PathUnescape(rest)
	if err != nil || strings.Contains(id, "/") {
		return "", httperr.Status(http.StatusBadRequest, fmt.Errorf("flag object %s is not a resource of this hub", act.ObjectID))
	}
	res, err := f.svc.Get(ctx, id)
	if err != nil {
		return "", err // 404 for an unknown resource
	}
	if !res.Local() {
		return "", httperr.Status(http.StatusForbidden, fmt.Errorf("flag object %s is a copy on this hub; flag it at its origin %s", act.ObjectID, res.Origin))
	}
	return id, nil
}

// flagReport reads a Flag's reason (other when absent or unknown, as from
// servers that are not Communs) and content, checked like a report made
// here: the inbox refuses an overlong or binary content with a 400.
func flagReport(act incoming) (node.ReportInput, error) {
	reason, _ := act.Raw["reason"].(string)
	if !slices.Contains(node.ReportReasons, reason) {
		reason = node.ReasonOther
	}
	content, _ := act.Raw["content"].(string)
	in, err := node.ReportInput{Reason: reason, Message: content}.Validate()
	if err != nil {
		return in, httperr.Status(http.StatusBadRequest, fmt.Errorf("flag %s: %w", act.ID, err))
	}
	return in, nil
}

// checkFlag is the inbox's check of a Flag, before it is recorded.
func (f *Federation) checkFlag(ctx context.Context, act incoming) error {
	if _, err := f.flagTarget(ctx, act); err != nil {
		return err
	}
	_, err := flagReport(act)
	return err
}

// onFlag stores a Flag as a report naming the hub that forwarded it.
func (f *Federation) onFlag(ctx context.Context, act incoming) error {
	id, err := f.flagTarget(ctx, act)
	if err != nil {
		return err
	}
	in, err := flagReport(act)
	if err != nil {
		return err
	}
	_, err = f.svc.ReceiveReport(ctx, act.Actor, id, in)
	return err
}
