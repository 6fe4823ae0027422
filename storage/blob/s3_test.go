package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/blob/blobtest"
)

func s3Config(m *testenv.MinIO, bucket string) blob.S3Config {
	return blob.S3Config{
		Endpoint:  m.Endpoint,
		Bucket:    bucket,
		AccessKey: m.AccessKey,
		SecretKey: m.SecretKey,
		Insecure:  true,
		PathStyle: "path",
	}
}

func newS3(t testing.TB, m *testenv.MinIO, cfg blob.S3Config) *blob.S3 {
	t.Helper()
	s, err := blob.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

// rawClient looks into the bucket behind the store's back, to see what the
// store's own API would hide (temp objects, unfinished uploads).
func rawClient(t testing.TB, m *testenv.MinIO) *minio.Client {
	t.Helper()
	c, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bucketKeys(t *testing.T, c *minio.Client, bucket string) []string {
	t.Helper()
	// Not t.Context(): this also runs in cleanups, after it is cancelled.
	ctx := context.Background()
	var keys []string
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	for up := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		keys = append(keys, "unfinished upload: "+up.Key)
	}
	return keys
}

func TestS3Contract(t *testing.T) {
	m := testenv.StartMinIO(t)
	raw := rawClient(t, m)
	blobtest.Run(t, func(t *testing.T) node.Blobs {
		bucket := m.Bucket(t)
		s := newS3(t, m, s3Config(m, bucket))
		// Whatever the contract does, only blobs may remain in the bucket:
		// no temp object, no unfinished multipart upload, no data object
		// that no pointer names.
		t.Cleanup(func() { checkOnlyBlobs(t, raw, bucket) })
		return s
	})
}

// checkOnlyBlobs fails if the bucket holds anything but blobs/<sha256>
// objects and the data/<id> objects their pointers name.
func checkOnlyBlobs(t *testing.T, raw *minio.Client, bucket string) {
	t.Helper()
	named := map[string]bool{}
	keys := bucketKeys(t, raw, bucket)
	for _, k := range keys {
		if strings.HasPrefix(k, "blobs/") {
			info, err := raw.StatObject(context.Background(), bucket, k, minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if id := info.UserMetadata["Communs-Data"]; id != "" {
				named["data/"+id] = true
			}
		}
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "blobs/") && !named[k] {
			t.Errorf("left in the bucket: %s", k)
		}
	}
}

func TestS3KeysAndPrefix(t *testing.T) {
	m := testenv.StartMinIO(t)
	bucket := m.Bucket(t)
	cfgA, cfgB := s3Config(m, bucket), s3Config(m, bucket)
	cfgA.Prefix, cfgB.Prefix = "node-a", "node-b/"
	cfgB.Endpoint = "http://" + m.Endpoint // a URL works too
	a, b := newS3(t, m, cfgA), newS3(t, m, cfgB)

	stored, err := a.Put(t.Context(), strings.NewReader("only in a"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := bucketKeys(t, rawClient(t, m), bucket); len(got) != 1 || got[0] != "node-a/blobs/"+stored.SHA256 {
		t.Fatalf("bucket holds %v, want only node-a/blobs/%s", got, stored.SHA256)
	}
	if _, err := b.Open(t.Context(), stored.SHA256); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("other prefix sees the blob: %v", err)
	}
	n := 0
	if err := b.Walk(t.Context(), func(node.Blob) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("Walk under the other prefix: %d blobs, %v", n, err)
	}
}

func TestNewS3InvalidConfig(t *testing.T) {
	ok := blob.S3Config{Endpoint: "127.0.0.1:1", Bucket: "b", Insecure: true}
	cases := []struct {
		name string
		edit func(*blob.S3Config)
	}{
		{"no endpoint", func(c *blob.S3Config) { c.Endpoint = "" }},
		{"no bucket", func(c *blob.S3Config) { c.Bucket = "" }},
		{"path style", func(c *blob.S3Config) { c.PathStyle = "sideways" }},
		{"scheme", func(c *blob.S3Config) { c.Endpoint = "ftp://127.0.0.1:1" }},
		{"endpoint path", func(c *blob.S3Config) { c.Endpoint = "http://127.0.0.1:1/bucket" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			if _, err := blob.NewS3(t.Context(), cfg); !errors.Is(err, node.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestS3Unavailable(t *testing.T) {
	m := testenv.StartMinIO(t)
	s := newS3(t, m, s3Config(m, m.Bucket(t)))
	data := blobtest.Bytes(1, 100_000)
	stored, err := s.Put(t.Context(), bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	// Opened while the server is up; Open's GET already brought the first
	// bytes, so seek past them: the next read needs a GET after the stop.
	early, err := s.Open(t.Context(), stored.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	if _, err := early.Seek(10, io.SeekStart); err != nil {
		t.Fatal(err)
	}

	m.Stop()
	ops := map[string]func() error{
		"Put": func() error {
			_, err := s.Put(t.Context(), strings.NewReader("new"), "")
			return err
		},
		"PutKnownDigest": func() error {
			_, err := s.Put(t.Context(), strings.NewReader("new"), blobtest.Digest([]byte("new")))
			return err
		},
		"Open": func() error {
			_, err := s.Open(t.Context(), stored.SHA256)
			return err
		},
		"Stat": func() error {
			_, err := s.Stat(t.Context(), stored.SHA256)
			return err
		},
		"Delete": func() error { return s.Delete(t.Context(), stored.SHA256) },
		"Walk":   func() error { return s.Walk(t.Context(), func(node.Blob) error { return nil }) },
		"ReadAfterStop": func() error {
			_, err := io.ReadAll(early)
			return err
		},
		"NewS3": func() error {
			_, err := blob.NewS3(t.Context(), s3Config(m, m.Bucket(t)))
			return err
		},
	}
	for name, op := range ops {
		err := op()
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, node.ErrUnavailable) {
			t.Errorf("%s with MinIO stopped: err = %v, want ErrUnavailable", name, err)
			continue
		}
		if errors.Is(err, node.ErrNotFound) {
			t.Errorf("%s: unreachable storage reported as not found: %v", name, err)
		}
		if !strings.Contains(err.Error(), "object storage unreachable at "+m.Endpoint) {
			t.Errorf("%s: error %q does not say which storage is unreachable", name, err)
		}
	}

	// The same store recovers once the server is back, without being recreated.
	m.Start()
	r, err := s.Open(t.Context(), stored.SHA256)
	if err != nil {
		t.Fatalf("Open after restart: %v", err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after restart: %d bytes, %v", len(got), err)
	}
	if _, err := s.Put(t.Context(), strings.NewReader("after restart"), ""); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
}

func TestS3PutMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 320 MiB")
	}
	m := testenv.StartMinIO(t)
	s := newS3(t, m, s3Config(m, m.Bucket(t)))
	// Two 16 MiB part buffers (one sent, one filled) plus HTTP bookkeeping,
	// whatever the file size.
	checkFlatMemory(t, s, 64<<20)
}

func benchS3(b *testing.B) *blob.S3 {
	m := testenv.StartMinIO(b)
	return newS3(b, m, s3Config(m, m.Bucket(b)))
}

func BenchmarkS3Put(b *testing.B) {
	s := benchS3(b)
	b.Run("digest=unknown", func(b *testing.B) { benchPut(b, s, false) })
	b.Run("digest=known", func(b *testing.B) { benchPut(b, s, true) })
}

func BenchmarkS3Get(b *testing.B) {
	benchGet(b, benchS3(b))
}

// TestS3SweepAfterCrash: a large Put of unknown digest goes through a marker
// tmp/<id>, the data data/<id> and the pointer blobs/<sha256>. Whichever
// step a crash (kill -9) interrupts, the start-up sweep keeps the bytes of
// a Put that wrote its pointer (it may have been answered) and removes the
// rest: no orphan data, no unfinished upload, no marker.
func TestS3SweepAfterCrash(t *testing.T) {
	m := testenv.StartMinIO(t)
	raw := rawClient(t, m)
	bucket := m.Bucket(t)
	s := newS3(t, m, s3Config(m, bucket))
	ctx := t.Context()
	put := func(key string, body []byte, meta map[string]string) {
		t.Helper()
		if _, err := raw.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{UserMetadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	id := func(n int) string { return fmt.Sprintf("%032x", n) }
	kept := blobtest.Bytes(7, 1000)
	keptSHA := blobtest.Digest(kept)

	// 1. Crash during the upload: marker, unfinished multipart upload.
	put("tmp/"+id(1), nil, nil)
	core := minio.Core{Client: raw}
	if _, err := core.NewMultipartUpload(ctx, bucket, "data/"+id(1), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// 2. Crash after the upload completed, before the marker named the digest.
	put("tmp/"+id(2), nil, nil)
	put("data/"+id(2), []byte("bytes nobody answered for"), nil)
	// 3. Crash after the marker named the digest, before the pointer.
	put("tmp/"+id(3), []byte(blobtest.Digest([]byte("lost"))), nil)
	put("data/"+id(3), []byte("lost"), nil)
	// 4. Crash after the pointer, before the marker was removed: a blob.
	put("tmp/"+id(4), []byte(keptSHA), nil)
	put("data/"+id(4), kept, nil)
	put("blobs/"+keptSHA, nil, map[string]string{"Communs-Data": id(4), "Communs-Size": "1000"})
	// 5. A marker naming a digest whose pointer names other data.
	put("tmp/"+id(5), []byte(keptSHA), nil)
	put("data/"+id(5), kept, nil)

	if err := blob.CleanS3Temp(ctx, s, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := bucketKeys(t, raw, bucket)
	want := []string{"blobs/" + keptSHA, "data/" + id(4)}
	if !slices.Equal(got, want) {
		t.Fatalf("bucket after the sweep holds %v, want %v", got, want)
	}
	r, err := s.Open(ctx, keptSHA)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, err := io.ReadAll(r); err != nil || !bytes.Equal(b, kept) {
		t.Fatalf("kept blob reads %d bytes, %v", len(b), err)
	}
}

// TestS3LargeUploadIsNotCopied: a blob of several parts whose digest is
// not declared is written once, at data/<id>, and blobs/<sha256> is an
// empty pointer naming it. Before, it went to a temp key and was copied
// server-side to blobs/<sha256>: MinIO wrote every byte twice.
func TestS3LargeUploadIsNotCopied(t *testing.T) {
	m := testenv.StartMinIO(t)
	raw := rawClient(t, m)
	bucket := m.Bucket(t)
	s := newS3(t, m, s3Config(m, bucket))
	const size = 17 << 20
	b, err := s.Put(t.Context(), blobtest.Reader(3, size), "")
	if err != nil {
		t.Fatal(err)
	}
	info, err := raw.StatObject(t.Context(), bucket, "blobs/"+b.SHA256, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := info.UserMetadata["Communs-Data"]
	if info.Size != 0 || id == "" || info.UserMetadata["Communs-Size"] != fmt.Sprint(size) {
		t.Fatalf("blobs/%s: %d bytes, metadata %v; want an empty pointer", b.SHA256, info.Size, info.UserMetadata)
	}
	got := bucketKeys(t, raw, bucket)
	if want := []string{"blobs/" + b.SHA256, "data/" + id}; !slices.Equal(got, want) {
		t.Fatalf("bucket holds %v, want %v", got, want)
	}
	if data, err := raw.StatObject(t.Context(), bucket, "data/"+id, minio.StatObjectOptions{}); err != nil || data.Size != size {
		t.Fatalf("data/%s: %d bytes, %v", id, data.Size, err)
	}
}
