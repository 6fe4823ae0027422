package blob

import (
	"context"
	"errors"
	"fmt"

	"github.com/communs-numerique/communs/node"
)

// CopyStats counts what Copy did.
type CopyStats struct {
	Total, Copied, Present int
	Bytes                  int64
}

// Copy copies every blob of src that dst lacks, each checked against its
// digest by dst's Put, so a corrupted source blob is reported and never
// lands. Blobs already in dst with the right size are skipped, which makes
// an interrupted copy resumable: run it again. progress, when set, is
// called after each blob.
func Copy(ctx context.Context, src, dst node.Blobs, progress func(CopyStats)) (CopyStats, error) {
	var st CopyStats
	if err := src.Walk(ctx, func(node.Blob) error { st.Total++; return nil }); err != nil {
		return st, fmt.Errorf("list source blobs: %w", err)
	}
	var failed []string
	err := src.Walk(ctx, func(b node.Blob) error {
		if size, err := dst.Stat(ctx, b.SHA256); err == nil && size == b.Size {
			st.Present++
		} else if err != nil && !errors.Is(err, node.ErrNotFound) {
			return fmt.Errorf("check %s at the target: %w", b.SHA256, err)
		} else {
			r, err := src.Open(ctx, b.SHA256)
			if errors.Is(err, node.ErrNotFound) {
				return nil // deleted since the walk began
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", b.SHA256, err)
			}
			_, err = dst.Put(ctx, r, b.SHA256)
			r.Close()
			switch {
			case errors.Is(err, node.ErrDigestMismatch):
				failed = append(failed, b.SHA256)
			case err != nil:
				return fmt.Errorf("copy %s: %w", b.SHA256, err)
			default:
				st.Copied++
				st.Bytes += b.Size
			}
		}
		if progress != nil {
			progress(st)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if len(failed) > 0 {
		return st, fmt.Errorf("%d source blob(s) do not match their digest and were not copied (first: %s); run communs doctor --deep", len(failed), failed[0])
	}
	return st, nil
}
