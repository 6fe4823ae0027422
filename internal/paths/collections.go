package paths

// Collections: curated, ordered sets of resources. The page address is
// also the collection's id for peers, so it is built here like a
// resource's.
const (
	// APICollections lists collections (GET) and creates one (POST);
	// APICollection is one of them.
	APICollections = "/api/v1/collections"
	APICollection  = APICollections + "/{id}"

	// Collections is the list page; Collection is a collection's page,
	// the same pattern serving its zip ({id} ending in ZipSuffix).
	Collections = "/collections"
	Collection  = Collections + "/{id}"
)

// CollectionPath is /collections/{id}.
func CollectionPath(id string) string { return fill(Collection, id) }

// CollectionZipPath is /collections/{id}.zip, the whole collection in one
// archive.
func CollectionZipPath(id string) string { return CollectionPath(id) + ZipSuffix }

// APICollectionPath is /api/v1/collections/{id}.
func APICollectionPath(id string) string { return fill(APICollection, id) }

// Collection is the absolute address of a collection's page.
func (b Base) Collection(id string) string { return string(b) + CollectionPath(id) }

// CollectionZip is the absolute address of a collection's zip.
func (b Base) CollectionZip(id string) string { return string(b) + CollectionZipPath(id) }
