package federation

// activity builds an activity of the given type from actor to the given
// audience. object is an IRI string or an embedded document (map). It is
// the map go-fed made (TestActivityAsGoFed): same terms, an IRI as its
// URL's String, a one-element audience as a plain IRI, more as a list;
// building it directly costs a fifth of what go-fed's typed values and
// serialisation did, on every page of an outbox and every delivery.
func activity(kind, id, actor string, object any, to, cc []string) (map[string]any, error) {
	switch kind {
	case "Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Flag", "Announce":
	default:
		panic("federation: unknown activity " + kind)
	}
	objectID, embedded := object.(string)
	if !embedded {
		objectID, _ = object.(map[string]any)["id"].(string)
	}
	m := map[string]any{"@context": ldContext(), "type": kind, "id": iri(id), "actor": iri(actor), "object": iri(objectID)}
	if len(to) > 0 {
		m["to"] = iris(to)
	}
	if len(cc) > 0 {
		m["cc"] = iris(cc)
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

// iri is an IRI as go-fed wrote it: parsed, then printed.
func iri(s string) string { return mustURL(s).String() }

// iris is an audience as go-fed wrote it: one IRI alone, more as a list.
func iris(v []string) any {
	if len(v) == 1 {
		return iri(v[0])
	}
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = iri(s)
	}
	return out
}
