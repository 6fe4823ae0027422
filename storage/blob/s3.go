package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
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

// emptySHA256 is the digest of no bytes, the one blob of size 0 that is not
// a pointer.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (s *S3) key(sha string) string { return s.prefix + "blobs/" + sha }

// sweepMarker removes data/<id> when marker tmp/<id> outlived its Put or
// Delete: unless the pointer the marker names (its body, a digest) still
// points at data/<id>, nothing references those bytes. A marker left by
// older versions (a whole temp object) has no data/<id>: nothing to do.
func (s *S3) sweepMarker(ctx context.Context, marker string) error {
	id := strings.TrimPrefix(marker, s.prefix+"tmp/")
	if !validID(id) {
		return nil
	}
	obj, err := s.client.GetObject(ctx, s.bucket, marker, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	sha, err := io.ReadAll(io.LimitReader(obj, 128))
	obj.Close()
	if err != nil && !isNotFound(err) {
		return err
	}
	if validDigest(string(sha)) {
		info, err := s.client.StatObject(ctx, s.bucket, s.key(string(sha)), minio.StatObjectOptions{})
		if err == nil && info.UserMetadata[metaData] == id {
			return nil // the Put got as far as its pointer: the bytes are a blob
		}
		if err != nil && !isNotFound(err) {
			return err
		}
	}
	data := s.prefix + "data/" + id
	if err := s.client.RemoveObject(ctx, s.bucket, data, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return err
	}
	// A crash during the upload leaves it unfinished rather than complete.
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, data, false) {
		if up.Err != nil {
			return up.Err
		}
		if up.Key == data {
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, data, up.UploadID); err != nil && !isNotFound(err) {
				return err
			}
		}
	}
	slog.Info("removed unreferenced blob data", "bucket", s.bucket, "key", data)
	return nil
}

func (s *S3) cleanTemp(ctx context.Context, before time.Time) error {
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + "tmp/", Recursive: true}) {
		if obj.Err != nil {
			return s.wrap(ctx, "clean temp objects", obj.Err)
		}
		if !obj.LastModified.Before(before) {
			continue
		}
		if err := s.sweepMarker(ctx, obj.Key); err != nil {
			return s.wrap(ctx, "clean temp objects", err)
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return s.wrap(ctx, "clean temp objects", err)
		}
		slog.Info("removed stale blob temp object", "bucket", s.bucket, "key", obj.Key, "modified", obj.LastModified)
	}
	return nil
}

// Put streams r to the bucket, without a server-side copy of the bytes:
//
//   - a blob that fits in one part (16 MiB) is read whole first, so its
//     digest is known and it is PUT once at blobs/<sha256>, with that
//     digest as x-amz-content-sha256: the server refuses other bytes;
//   - a larger blob whose digest the caller declared goes straight to
//     blobs/<sha256> as a multipart upload, completed only once the last
//     byte is read and the digest matched (a mismatch aborts it);
//   - a larger blob of unknown digest goes to data/<id> as a multipart
//     upload; once complete, an empty pointer object at blobs/<sha256>
//     names it (metadata Communs-Data, Communs-Size). A marker tmp/<id>
//     exists while data/<id> may be unreferenced, so that a crash leaves
//     nothing NewS3 cannot sweep (see cleanTemp).
//
// Reading the client and sending a part overlap: one part uploads while
// the next is read, two part buffers per Put.
func (s *S3) Put(ctx context.Context, r io.Reader, wantSHA256 string) (node.Blob, error) {
	if wantSHA256 != "" {
		if err := checkDigest("put blob", wantSHA256); err != nil {
			return node.Blob{}, err
		}
	}
	src := newHashingReader(ctx, r, wantSHA256)
	if wantSHA256 != "" {
		if _, err := s.client.StatObject(ctx, s.bucket, s.key(wantSHA256), minio.StatObjectOptions{}); err == nil {
			// Already stored: verify the caller's bytes but do not upload them again.
			if _, err := io.Copy(io.Discard, src); err != nil {
				return node.Blob{}, s.putErr(ctx, src, err)
			}
			return node.Blob{SHA256: wantSHA256, Size: src.n}, nil
		} else if !isNotFound(err) {
			return node.Blob{}, s.wrap(ctx, "put blob", err)
		}
	}
	// Read up to one part; a file under 1 MiB costs no part buffer.
	first, err := readPart(src)
	if err != nil {
		return node.Blob{}, s.putErr(ctx, src, err)
	}
	if len(first) < partSize {
		defer putPart(first) // when it is a part buffer: putWhole is done with it
		return s.putWhole(ctx, first, src.sum())
	}
	if wantSHA256 != "" {
		if err := s.upload(ctx, s.key(wantSHA256), src, first); err != nil {
			return node.Blob{}, s.putErr(ctx, src, err)
		}
		return node.Blob{SHA256: wantSHA256, Size: src.n}, nil
	}
	return s.putIndirect(ctx, src, first)
}

// readPart reads up to partSize bytes of src, in a buffer of that size
// only once the first MiB is full.
func readPart(src io.Reader) ([]byte, error) {
	small := make([]byte, 1<<20)
	n, err := io.ReadFull(src, small)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return small[:n], nil
	}
	if err != nil {
		return nil, err
	}
	part := getPart()
	copy(part, small)
	m, err := io.ReadFull(src, part[n:])
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return part[:n+m], err
}

// putWhole stores a blob held in memory under its digest.
func (s *S3) putWhole(ctx context.Context, data []byte, sha string) (node.Blob, error) {
	blob := node.Blob{SHA256: sha, Size: int64(len(data))}
	key := s.key(sha)
	if _, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err == nil {
		return blob, nil
	} else if !isNotFound(err) {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), "", sha,
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	return blob, nil
}

// Metadata of a pointer object (minio-go's canonical form of
// X-Amz-Meta-Communs-Data and X-Amz-Meta-Communs-Size).
const (
	metaData = "Communs-Data"
	metaSize = "Communs-Size"
)

// putIndirect stores a large blob of unknown digest at data/<id> and points
// blobs/<sha256> at it. Each step leaves the bucket in a state cleanTemp
// resolves: marker tmp/<id> (empty) -> data/<id> complete -> marker names
// the digest -> pointer written -> marker removed.
func (s *S3) putIndirect(ctx context.Context, src *hashingReader, first []byte) (node.Blob, error) {
	id := randomHex()
	marker, data := s.prefix+"tmp/"+id, s.prefix+"data/"+id
	if err := s.putSmall(ctx, marker, nil, nil); err != nil {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	keepData := false
	defer func() {
		// Even when the request was cancelled meanwhile.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if !keepData {
			s.remove(rctx, data)
		}
		s.remove(rctx, marker)
	}()
	if err := s.upload(ctx, data, src, first); err != nil {
		return node.Blob{}, s.putErr(ctx, src, err)
	}
	blob := node.Blob{SHA256: src.sum(), Size: src.n}
	key := s.key(blob.SHA256)
	if _, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err == nil {
		return blob, nil // same bytes already stored: ours go
	} else if !isNotFound(err) {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	if err := s.putSmall(ctx, marker, []byte(blob.SHA256), nil); err != nil {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	// If-None-Match: * makes the pointer's creation atomic: of two Puts of
	// the same bytes, the second is refused and drops its copy.
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream",
		UserMetadata: map[string]string{metaData: id, metaSize: strconv.FormatInt(blob.Size, 10)}}
	opts.SetMatchETagExcept("*")
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(nil), 0, "", "", opts)
	if isPreconditionFailed(err) {
		return blob, nil
	}
	if err != nil {
		return node.Blob{}, s.wrap(ctx, "put blob", err)
	}
	keepData = true
	// A storage that ignores If-None-Match lets the last pointer win: the
	// Put whose data it does not name drops its copy.
	if info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err == nil && info.UserMetadata[metaData] != id {
		keepData = false
	}
	return blob, nil
}

func isPreconditionFailed(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "PreconditionFailed" || er.StatusCode == http.StatusPreconditionFailed)
}

func (s *S3) putSmall(ctx context.Context, key string, body []byte, meta map[string]string) error {
	_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)), "", "",
		minio.PutObjectOptions{ContentType: "application/octet-stream", UserMetadata: meta})
	return err
}

func (s *S3) remove(ctx context.Context, key string) {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		slog.Warn("s3 blob store: could not remove object", "key", key, "err", err)
	}
}

// spareParts keeps the part buffers of one upload between Puts: a
// sync.Pool would drop them at the next collections, and allocating 32 MiB
// per upload makes the heap (and RSS) swing. Concurrent uploads beyond the
// first allocate their own, which the collector takes back.
var spareParts = make(chan []byte, 2)

func getPart() []byte {
	select {
	case b := <-spareParts:
		return b
	default:
		return make([]byte, partSize)
	}
}

func putPart(b []byte) {
	if cap(b) != partSize {
		return
	}
	select {
	case spareParts <- b[:partSize]:
	default:
	}
}

// maxParts is S3's limit on the parts of one object.
const maxParts = 10_000

// upload sends first, then the rest of src, as a multipart upload to key.
// The upload completes only after src's last byte (and, for a hashing
// reader with a declared digest, its check); any failure aborts it, so
// nothing appears under key. The next part is read while one is sent.
func (s *S3) upload(ctx context.Context, key string, src io.Reader, first []byte) (err error) {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, key, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if aerr := s.core.AbortMultipartUpload(rctx, s.bucket, key, uploadID); aerr != nil && !isNotFound(aerr) {
				slog.Warn("s3 blob store: could not abort multipart upload", "key", key, "err", aerr)
			}
		}
	}()
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type part struct {
		num  int
		data []byte
	}
	parts := make(chan part)
	free := make(chan []byte, 1)
	sent := make(chan error, 1)
	var done []minio.CompletePart
	go func() {
		var err error
		for p := range parts {
			if err == nil {
				var op minio.ObjectPart
				op, err = s.core.PutObjectPart(uctx, s.bucket, key, uploadID, p.num, bytes.NewReader(p.data), int64(len(p.data)), minio.PutObjectPartOptions{})
				if err != nil {
					cancel() // stops the reading side too
				} else {
					done = append(done, minio.CompletePart{PartNumber: p.num, ETag: op.ETag})
				}
			}
			free <- p.data
		}
		sent <- err
	}()
	// Two part buffers per upload, one sent while the other is filled,
	// whatever the file's size.
	second := getPart()
	free <- second
	var readErr error
	data, num := first, 1
	for {
		parts <- part{num, data}
		buf := <-free // the part before the one just handed over is sent
		if err := uctx.Err(); err != nil {
			readErr = err // sending failed (sendErr says why) or the request is gone
			break
		}
		n, err := io.ReadFull(src, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			readErr = err
			break
		}
		if num++; num > maxParts {
			readErr = fmt.Errorf("more than %d parts of %d MiB: %w", maxParts, partSize>>20, node.ErrTooLarge)
			break
		}
		data = buf[:n]
		if err == io.ErrUnexpectedEOF {
			parts <- part{num, data}
			<-free
			break
		}
	}
	close(parts)
	sendErr := <-sent
	// Nothing uses the two buffers any more (Put's caller neither).
	putPart(first)
	putPart(second)
	// Never complete after a failure: the object would be truncated.
	if sendErr != nil {
		return sendErr
	}
	if readErr != nil {
		return readErr
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, done, opts); err != nil {
		return err
	}
	return nil
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
	key := s.key(sha256)
	body, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrap(ctx, "open blob "+sha256, err)
	}
	if id := info.UserMetadata[metaData]; id != "" && info.Size == 0 {
		// A pointer: the bytes are at data/<id>.
		body.Close()
		if !validID(id) {
			return nil, fmt.Errorf("open blob %s: pointer names %q: %w", sha256, id, node.ErrNotFound)
		}
		key = s.prefix + "data/" + id
		if body, info, _, err = s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{}); err != nil {
			return nil, s.wrap(ctx, "open blob "+sha256, err)
		}
	}
	return &s3Reader{body: body, key: key, size: info.Size, etag: info.ETag, s: s, ctx: ctx, sha: sha256}, nil
}

// validID checks a pointer's data id (randomHex's 32 hex digits): it becomes
// part of a key.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// pointerSize is the size a pointer object records, ok false when info is
// not a pointer.
func pointerSize(info minio.ObjectInfo) (size int64, ok bool) {
	if info.UserMetadata[metaData] == "" || info.Size != 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(info.UserMetadata[metaSize], 10, 64)
	return n, err == nil && n >= 0
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
	if n, ok := pointerSize(info); ok {
		return n, nil
	}
	return info.Size, nil
}

// Delete removes the object; S3 already treats a missing key as success.
func (s *S3) Delete(ctx context.Context, sha256 string) error {
	if err := checkDigest("delete blob", sha256); err != nil {
		return err
	}
	key := s.key(sha256)
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return s.wrap(ctx, "delete blob "+sha256, err)
	}
	id := info.UserMetadata[metaData]
	if _, ok := pointerSize(info); !ok || !validID(id) {
		if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return s.wrap(ctx, "delete blob "+sha256, err)
		}
		return nil
	}
	// A pointer: the marker lets cleanTemp finish the job after a crash.
	marker := s.prefix + "tmp/" + id
	if err := s.putSmall(ctx, marker, []byte(sha256), nil); err != nil {
		return s.wrap(ctx, "delete blob "+sha256, err)
	}
	for _, k := range []string{key, s.prefix + "data/" + id, marker} {
		if err := s.client.RemoveObject(ctx, s.bucket, k, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return s.wrap(ctx, "delete blob "+sha256, err)
		}
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
		size := obj.Size
		if size == 0 && sha != emptySHA256 {
			// Maybe a pointer: its size is in its metadata.
			info, err := s.client.StatObject(ctx, s.bucket, obj.Key, minio.StatObjectOptions{})
			if isNotFound(err) {
				continue // deleted meanwhile
			}
			if err != nil {
				return s.wrap(ctx, "walk blobs", err)
			}
			if n, ok := pointerSize(info); ok {
				size = n
			}
		}
		if err := fn(node.Blob{SHA256: sha, Size: size}); err != nil {
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
	key     string        // blobs/<sha256>, or data/<id> behind a pointer
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
		body, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.key, opts)
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
