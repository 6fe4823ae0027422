package catalog

import (
	"context"
	"encoding/binary"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

var _ node.Checksums = (*Store)(nil)

// bucketCRC32 maps a blob's SHA-256 to its CRC-32 (4 bytes, big endian).
// A value depends only on the blob's bytes, so it is never stale; a record
// left behind by a deleted blob is correct, should the bytes come back.
// Older code ignores the bucket.
var bucketCRC32 = []byte("crc32")

// BlobCRC32 returns the recorded CRC-32 of a blob.
func (s *Store) BlobCRC32(ctx context.Context, sha256 string) (uint32, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	var crc uint32
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCRC32)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(sha256)); len(v) == 4 {
			crc, ok = binary.BigEndian.Uint32(v), true
		}
		return nil
	})
	return crc, ok, err
}

// SetBlobCRC32s records blobs' CRC-32 in one transaction.
func (s *Store) SetBlobCRC32s(ctx context.Context, crcs map[string]uint32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCRC32)
		if err != nil {
			return err
		}
		for d, crc := range crcs {
			if err := b.Put([]byte(d), binary.BigEndian.AppendUint32(nil, crc)); err != nil {
				return err
			}
		}
		return nil
	})
}
