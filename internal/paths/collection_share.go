package paths

// Sharing a collection copy with the hub's followers (an Announce).
const (
	// APICollectionShare shares a collection copy (POST) or takes the
	// share back (DELETE).
	APICollectionShare = APICollection + "/share"
	// CollectionShare takes the collection page's share form; with
	// annuler=1, its undo.
	CollectionShare = Collection + "/partage"
)

// CollectionSharePath is the share form's action for a collection.
func CollectionSharePath(id string) string { return fill(CollectionShare, id) }

// APICollectionSharePath is /api/v1/collections/{id}/share.
func APICollectionSharePath(id string) string { return fill(APICollectionShare, id) }
