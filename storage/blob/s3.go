package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/communs-numerique/communs/node"
)

const (
	// partSize bounds what one Put holds in memory: minio-go buffers one part
	// of a stream of unknown length, whatever the file's size. 16 MiB parts
	// still reach 160 GB within S3's 10,000-part limit.
	partSize = 16 << 20
	// maxRetries keeps a dead backend from holding a request for the ~10 s of
	// minio-go's default backoff while still riding out a short blip.
	maxRetries  = 3
	dialTimeout = 10 * time.Second
)

// S3Config locates an S3-compatible bucket.
type S3Config struct {
	// Endpoint is host[:port], or a URL whose scheme chooses TLS.
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	// Insecure talks plain HTTP instead of HTTPS (a local MinIO).
	Insecure bool
	// PathStyle is "auto" (or empty), "path" (endpoint/bucket/key, what most
	// self-hosted servers want) or "virtual" (bucket.endpoint/key).
	PathStyle string
	// Prefix is prepended to every key, so several nodes can share a bucket.
	// A missing trailing slash is added.
	Prefix string
}

// S3 stores blobs as objects <prefix>blobs/<sha256> in an S3 bucket.
type S3 struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string
	endpoint string
}

var _ node.Blobs = (*S3)(nil)

// NewS3 connects to the bucket, creating it when missing, and removes temp
// objects that a crash left behind more than an hour ago.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, fmt.Errorf("s3 blob store: endpoint and bucket are required: %w", node.ErrInvalid)
	}
	host, secure := cfg.Endpoint, !cfg.Insecure
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return nil, fmt.Errorf("s3 blob store: endpoint %q: %w", cfg.Endpoint, err)
		}
		switch u.Scheme {
		case "http":
			secure = false
		case "https":
			secure = true
		default:
			return nil, fmt.Errorf("s3 blob store: endpoint %q: scheme must be http or https: %w", cfg.Endpoint, node.ErrInvalid)
		}
		if strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("s3 blob store: endpoint %q must not have a path (use prefix): %w", cfg.Endpoint, node.ErrInvalid)
		}
		host = u.Host
	}
	var lookup minio.BucketLookupType
	switch cfg.PathStyle {
	case "", "auto":
		lookup = minio.BucketLookupAuto
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual":
		lookup = minio.BucketLookupDNS
	default:
		return nil, fmt.Errorf("s3 blob store: path style %q: want auto, path or virtual: %w", cfg.PathStyle, node.ErrInvalid)
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("s3 blob store: %w", err)
	}
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       secure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 blob store: %w", err)
	}
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	s := &S3{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, prefix: prefix, endpoint: host}

	ok, err := client.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, s.wrap(ctx, "s3 blob store: check bucket", err)
	}
	if !ok {
		err := client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
			return nil, s.wrap(ctx, fmt.Sprintf("s3 blob store: create bucket %s", s.bucket), err)
		}
	}
	if err := s.cleanTemp(ctx, time.Now().Add(-staleTemp)); err != nil {
		// Leftover temp objects only waste space; they never block the node.
		slog.Warn("s3 blob store: could not clean temp objects", "err", err)
	}
	return s, nil
}

func (s *S3) key(sha string) string { return s.prefix + "blobs/" + sha }

func (s *S3) cleanTemp(ctx context.Context, before time.Time) error {
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "tmp/", Recursive: true}) {
		if obj.Err != nil {
			return s.wrap(ctx, "clean temp objects", obj.Err)
		}
		if !obj.LastModified.Before(before) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return s.wrap(ctx, "clean temp objects", err)
		}
		slog.Info("removed stale blob temp object", "bucket", s.bucket, "key", obj.Key, "modified", obj.LastModified)
	}
	return nil
}

// Put streams r to the bucket. When the digest is known in advance the bytes
// go straight to their final key and a mismatch, detected at EOF, aborts the
// multipart upload before it completes; this spares a server-side copy of
// the whole file. Otherwise they go to a temp key and are copied into place
// once hashed.
func (s *S3) Put(ctx context.Context, r io.Reader, wantSHA256 string) (node.Blob, error) {
	if wantSHA256 == "" {
		return s.putViaTemp(ctx, r)
	}
	if err := checkDigest("put blob", wantSHA256); err != nil {
		return node.Blob{}, err
	}
	src := newHashingReader(ctx, r, wantSHA256)
	key := s.key(wantSHA256)
	if _, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err == nil {
		// Already stored: verify the caller's bytes but do not upload them again.
		if _, err := io.Copy(io.Discard, src); err != nil {
			return node.Blob{}, s.putErr(ctx, src, err)
		}
		return node.Blob{SHA256: wantSHA256, Size: src.n}, nil
	} else if !isNotFound(err) {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	if _, err := s.upload(ctx, key, src); err != nil {
		return node.Blob{}, s.putErr(ctx, src, err)
	}
	return node.Blob{SHA256: wantSHA256, Size: src.n}, nil
}

func (s *S3) putViaTemp(ctx context.Context, r io.Reader) (node.Blob, error) {
	tmp := s.prefix + "tmp/" + randomHex()
	src := newHashingReader(ctx, r, "")
	if _, err := s.upload(ctx, tmp, src); err != nil {
		return node.Blob{}, s.putErr(ctx, src, err)
	}
	defer func() {
		// Remove the temp object even when the request was cancelled meanwhile.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := s.client.RemoveObject(rctx, s.bucket, tmp, minio.RemoveObjectOptions{}); err != nil {
			slog.Warn("s3 blob store: could not remove temp object", "key", tmp, "err", err)
		}
	}()
	blob := node.Blob{SHA256: src.sum(), Size: src.n}
	key := s.key(blob.SHA256)
	_, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return blob, nil
	}
	if !isNotFound(err) {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	// ComposeObject, unlike CopyObject, splits sources above 5 GiB into
	// part copies, so large videos can be moved server-side too.
	_, err = s.client.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: key},
		minio.CopySrcOptions{Bucket: s.bucket, Object: tmp})
	if err != nil {
		return node.Blob{}, s.wrap(ctx, "put blob: copy into place", err)
	}
	return blob, nil
}

func (s *S3) upload(ctx context.Context, key string, src io.Reader) (minio.UploadInfo, error) {
	// Size -1 streams in parts of partSize: memory stays flat however big
	// the file, and minio-go aborts the multipart upload when src fails, so
	// a broken or mismatching source leaves no object behind.
	return s.client.PutObject(ctx, s.bucket, key, src, -1, minio.PutObjectOptions{
		PartSize:    partSize,
		ContentType: "application/octet-stream",
	})
}

// putErr blames the right party for a failed upload: the source (including
// a digest mismatch found at EOF) or the object storage.
func (s *S3) putErr(ctx context.Context, src *hashingReader, err error) error {
	if errors.Is(err, node.ErrDigestMismatch) {
		return fmt.Errorf("put blob: %w", err)
	}
	if src.err != nil {
		return fmt.Errorf("put blob: read source: %w", src.err)
	}
	return s.wrap(ctx, "put blob", err)
}

// Open returns a reader over the object, already streaming its first
// bytes: one GET answers both the size and the start of the download.
// Reads go straight to the HTTP body (minio-go's Object would hand each one
// to a goroutine through channels); a Seek elsewhere closes it and the next
// Read asks for the rest from there, so range requests fetch what they send.
func (s *S3) Open(ctx context.Context, sha256 string) (node.BlobReader, error) {
	if err := checkDigest("open blob", sha256); err != nil {
		return nil, err
	}
	body, info, _, err := s.core.GetObject(ctx, s.bucket, s.key(sha256), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrap(ctx, "open blob "+sha256, err)
	}
	return &s3Reader{body: body, size: info.Size, etag: info.ETag, s: s, ctx: ctx, sha: sha256}, nil
}

// Stat returns the object's size.
func (s *S3) Stat(ctx context.Context, sha256 string) (int64, error) {
	if err := checkDigest("stat blob", sha256); err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.key(sha256), minio.StatObjectOptions{})
	if err != nil {
		return 0, s.wrap(ctx, "stat blob "+sha256, err)
	}
	return info.Size, nil
}

// Delete removes the object; S3 already treats a missing key as success.
func (s *S3) Delete(ctx context.Context, sha256 string) error {
	if err := checkDigest("delete blob", sha256); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.key(sha256), minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return s.wrap(ctx, "delete blob "+sha256, err)
	}
	return nil
}

// Walk lists the blobs prefix in key order. Keys that are not digests are
// skipped. An error from fn stops the walk and is returned unchanged.
func (s *S3) Walk(ctx context.Context, fn func(node.Blob) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn returns early
	prefix := s.prefix + "blobs/"
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return s.wrap(ctx, "walk blobs", obj.Err)
		}
		sha := strings.TrimPrefix(obj.Key, prefix)
		if !validDigest(sha) {
			continue
		}
		if err := fn(node.Blob{SHA256: sha, Size: obj.Size}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// wrap adds the operation to err and maps it to the node's sentinels, so the
// HTTP layer can answer 404 or 503 without knowing about S3.
func (s *S3) wrap(ctx context.Context, op string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s: %w", op, node.ErrNotFound)
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if isUnavailable(err) {
		return fmt.Errorf("%s: %w: object storage unreachable at %s: %w", op, node.ErrUnavailable, s.endpoint, err)
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.Code == minio.NoSuchBucket {
		return fmt.Errorf("%s: %w: bucket %s does not exist at %s", op, node.ErrUnavailable, s.bucket, s.endpoint)
	}
	return fmt.Errorf("%s: object storage at %s: %w", op, s.endpoint, err)
}

func isNotFound(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == minio.NoSuchKey
}

func isUnavailable(err error) bool {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "SlowDown", "ServiceUnavailable", "RequestTimeout", "XMinioServerNotInitialized":
			return true
		}
		return er.StatusCode >= 500
	}
	var ne net.Error // also *url.Error: refused, reset, DNS, timeouts
	return errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// s3Reader reads an object through ranged GETs: body streams from bodyPos
// while pos is where the next Read must start. Errors of reads that happen
// long after Open (a server that went away mid-download) are mapped to the
// node's sentinels.
type s3Reader struct {
	body    io.ReadCloser // nil: none open
	bodyPos int64
	pos     int64
	size    int64
	etag    string
	s       *S3
	ctx     context.Context
	sha     string
}

func (r *s3Reader) Size() int64 { return r.size }

func (r *s3Reader) Read(p []byte) (int, error) {
	if r.body != nil && r.bodyPos != r.pos {
		r.body.Close()
		r.body = nil
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		opts := minio.GetObjectOptions{}
		// The same object, or an error: never bytes of another version.
		if err := opts.SetMatchETag(r.etag); err != nil {
			return 0, r.s.wrap(r.ctx, "read blob "+r.sha, err)
		}
		if err := opts.SetRange(r.pos, r.size-1); err != nil {
			return 0, r.s.wrap(r.ctx, "read blob "+r.sha, err)
		}
		body, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.s.key(r.sha), opts)
		if err != nil {
			return 0, r.s.wrap(r.ctx, "read blob "+r.sha, err)
		}
		r.body, r.bodyPos = body, r.pos
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	r.bodyPos = r.pos
	switch {
	case err == io.EOF && r.pos < r.size:
		err = r.s.wrap(r.ctx, "read blob "+r.sha, io.ErrUnexpectedEOF)
	case err != nil && err != io.EOF:
		err = r.s.wrap(r.ctx, "read blob "+r.sha, err)
	}
	return n, err
}

func (r *s3Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return r.pos, fmt.Errorf("seek blob %s: whence %d: %w", r.sha, whence, node.ErrInvalid)
	}
	if offset < 0 {
		return r.pos, fmt.Errorf("seek blob %s: negative position %d: %w", r.sha, offset, node.ErrInvalid)
	}
	r.pos = offset
	return offset, nil
}

func (r *s3Reader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
