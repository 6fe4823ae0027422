package paths

// Sharing a copy with the hub's followers (an ActivityPub Announce).
const (
	// APIResourceShare shares a copy (POST) or takes the share back (DELETE).
	APIResourceShare = APIResource + "/share"
	// ResourceShare takes the resource page's share form; with
	// ?annuler=1, its undo.
	ResourceShare = Resource + "/partage"
)

// ResourceSharePath is the share form's action for a resource.
func ResourceSharePath(id string) string { return fill(ResourceShare, id) }
