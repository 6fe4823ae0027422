// Package node is the domain of a Communs hub: what a resource is, which
// licences a hub accepts, who may write, and the order in which a write
// reaches the stores. It imports no concrete store, no HTTP and no
// ActivityPub library; everything else imports it.
//
// # Ports
//
// The package owns the interfaces it needs and nothing implements them here:
//
//   - Catalog (resources, file records, blob reference counts; its
//     read-only part is CatalogReader), ChangeFeed (the log of changes and
//     the workers' cursors) and Accounts (users, tokens): storage/catalog,
//     on bbolt. Each user names what it needs: Service writes through
//     Catalog, the Indexer reads an IndexSource (CatalogReader and
//     ChangeFeed), the harvesters (oaipmh, catalogue) declare their own.
//   - Blobs (content-addressed bytes): storage/blob, on local disk or S3.
//   - Index (search): storage/search/embedded (bleve) and
//     storage/search/meili (Meilisearch).
//
// Each port has one contract suite (storage/blob/blobtest,
// storage/search/searchtest) run against every implementation.
//
// # The write order
//
// Service validates metadata and the licence before reading a byte of file,
// streams each file into Blobs while hashing it, then records the resource
// with all its files in one Catalog transaction, which also appends a Change
// to the feed. Blobs no record points at any more are deleted after the
// commit, under a per-digest lock. A crash at any instant leaves the old
// state or the new one, never a record pointing at a missing blob; at worst
// an orphan blob.
//
// # The change feed
//
// Work that can be redone follows the feed with its own persisted cursor:
// the Indexer keeps the search index in step, and the federation publisher
// turns changes into deliveries. A write never waits for either.
//
// # Who imports whom
//
// cmd/communs wires the stores, node.Service and the edges. The edges
// (web for HTTP, federation for ActivityPub, internal/kit for kit
// folders) call Service; storage packages implement the ports. Remote
// resources enter through Service.SaveRemote, under the same validation and
// licence policy as local ones.
package node
