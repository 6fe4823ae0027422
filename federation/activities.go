package federation

import (
	"github.com/go-fed/activity/streams"
	"github.com/go-fed/activity/streams/vocab"
)

// activity builds an activity of the given type by go-fed, from actor to
// the given audience. object is an IRI string or an embedded document
// (map): go-fed carries the IRI, and an embedded document replaces it after
// serialisation since extension terms live outside go-fed's types.
func activity(kind, id, actor string, object any, to, cc []string) (map[string]any, error) {
	var t interface {
		vocab.Type
		SetJSONLDId(vocab.JSONLDIdProperty)
		SetActivityStreamsActor(vocab.ActivityStreamsActorProperty)
		SetActivityStreamsObject(vocab.ActivityStreamsObjectProperty)
		SetActivityStreamsTo(vocab.ActivityStreamsToProperty)
		SetActivityStreamsCc(vocab.ActivityStreamsCcProperty)
	}
	switch kind {
	case "Create":
		t = streams.NewActivityStreamsCreate()
	case "Update":
		t = streams.NewActivityStreamsUpdate()
	case "Delete":
		t = streams.NewActivityStreamsDelete()
	case "Follow":
		t = streams.NewActivityStreamsFollow()
	case "Accept":
		t = streams.NewActivityStreamsAccept()
	case "Reject":
		t = streams.NewActivityStreamsReject()
	case "Undo":
		t = streams.NewActivityStreamsUndo()
	case "Flag":
		t = streams.NewActivityStreamsFlag()
	case "Announce":
		t = streams.NewActivityStreamsAnnounce()
	default:
		panic("federation: unknown activity " + kind)
	}
	t.SetJSONLDId(idProp(id))
	a := streams.NewActivityStreamsActorProperty()
	a.AppendIRI(mustURL(actor))
	t.SetActivityStreamsActor(a)
	objectID, embedded := object.(string)
	if !embedded {
		objectID, _ = object.(map[string]any)["id"].(string)
	}
	o := streams.NewActivityStreamsObjectProperty()
	o.AppendIRI(mustURL(objectID))
	t.SetActivityStreamsObject(o)
	if len(to) > 0 {
		p := streams.NewActivityStreamsToProperty()
		for _, v := range to {
			p.AppendIRI(mustURL(v))
		}
		t.SetActivityStreamsTo(p)
	}
	if len(cc) > 0 {
		p := streams.NewActivityStreamsCcProperty()
		for _, v := range cc {
			p.AppendIRI(mustURL(v))
		}
		t.SetActivityStreamsCc(p)
	}
	m, err := serialize(t)
	if err != nil {
		return nil, err
	}
	if doc, ok := object.(map[string]any); ok {
		inner := make(map[string]any, len(doc))
		for k, v := range doc {
			if k != "@context" {
				inner[k] = v
			}
		}
		// A new post is not an edit: Mastodon and GoToSocial show an
		// object's updated as one. An Update always carries it, even in the
		// second of the Create, so that GoToSocial dates the edit.
		if _, ok := inner["dateModified"]; ok {
			switch kind {
			case "Create":
				delete(inner, "updated")
			case "Update":
				inner["updated"] = inner["dateModified"]
			}
		}
		m["object"] = inner
	}
	return m, nil
}
