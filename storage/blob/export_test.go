package blob

import (
	"context"
	"time"
)

// CleanS3Temp runs the sweep NewS3 runs at start, with a chosen age limit,
// so tests need not wait an hour.
func CleanS3Temp(ctx context.Context, s *S3, before time.Time) error { return s.cleanTemp(ctx, before) }
