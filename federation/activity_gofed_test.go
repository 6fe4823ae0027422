package federation

import (
	"encoding/json"
	"testing"

	"github.com/go-fed/activity/streams"
	"github.com/go-fed/activity/streams/vocab"
)

// TestActivityAsGoFed: activity builds, without go-fed, the very map
// go-fed's typed values serialised to (activityGoFed, below, is the code
// it replaced): same JSON for every kind, audience size and object shape,
// odd URLs included.
func TestActivityAsGoFed(t *testing.T) {
	urls := []string{"https://a.example/act/1", "http://a.example:8080/x?y=1&z=%C3%A9#f", "https://a.example/é space/ü",
		"https://A.Example/Path/../x", "https://a.example/%41%2F", "", "https://xn--bcher-kva.example/a b"}
	objects := []any{"https://a.example/o/1", "https://a.example/o/ä?q=1",
		map[string]any{"id": "https://a.example/o/2", "type": "Note", "@context": "x", "dateModified": "2020-01-02T00:00:00Z", "updated": "2019"},
		map[string]any{"id": "https://a.example/o/3", "type": "Tombstone"},
		map[string]any{"type": "Note", "name": "sans id"}}
	audiences := [][]string{nil, {}, {asPublic}, {"https://a.example/followers"}, {asPublic, "https://a.example/f"}, {"https://a.example/1", "https://a.example/2", "https://a.example/3 x"}}
	n := 0
	for _, kind := range []string{"Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Flag", "Announce"} {
		for i, u := range urls {
			for _, obj := range objects {
				for j, to := range audiences {
					cc := audiences[(i+j)%len(audiences)]
					want, err := activityGoFed(kind, u, urls[(i+1)%len(urls)], obj, to, cc)
					if err != nil {
						t.Fatal(err)
					}
					got, err := activity(kind, u, urls[(i+1)%len(urls)], obj, to, cc)
					if err != nil {
						t.Fatal(err)
					}
					wb, _ := json.Marshal(want)
					gb, _ := json.Marshal(got)
					if string(wb) != string(gb) {
						t.Fatalf("%s %q %v to %v cc %v:\n got %s\nwant %s", kind, u, obj, to, cc, gb, wb)
					}
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("nothing compared")
	}
}

func activityGoFed(kind, id, actor string, object any, to, cc []string) (map[string]any, error) {
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
