// Package backup writes and restores a node's data folder as one tar file:
// a consistent snapshot of the catalog (resources, users, tokens, peers,
// queues), the keys, the config file, and optionally every blob.
package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/communs-numerique/communs/node"
)

// Snapshotter is the catalog: WriteTo copies a consistent snapshot while
// writers keep going (a bbolt read transaction).
type Snapshotter interface {
	WriteTo(w io.Writer) (int64, error)
}

// Manifest is the first entry of a backup.
type Manifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	Files   bool      `json:"files"`
	Blobs   int       `json:"blobs"`
}

// keyFiles are the secrets of a data folder that a restore must bring back:
// without the actor key every peer's follow breaks, without the session key
// every editor is logged out.
var keyFiles = []string{"federation/actor.pem", "session.key"}

// Options says what to include.
type Options struct {
	DataDir string
	// Blobs, when set, adds every stored blob (the --with-files backup).
	Blobs node.Blobs
	// ConfigFile, when set, is copied as config/<its name>.
	ConfigFile string
	// Referenced lists the digests a catalog snapshot file references
	// (catalog.ReferencedBlobs); with Blobs, exactly those are copied.
	Referenced func(snapshot string) ([]string, error)
}

// Write streams a backup to w.
func Write(ctx context.Context, w io.Writer, cat Snapshotter, opt Options) (Manifest, error) {
	man := Manifest{Format: 1, Created: time.Now().UTC(), Files: opt.Blobs != nil}
	tw := tar.NewWriter(w)
	// The catalog snapshot is spooled to a temp file: tar needs its size
	// before its bytes.
	tmp, err := os.CreateTemp(opt.DataDir, ".backup-catalog-*")
	if err != nil {
		return man, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := cat.WriteTo(tmp); err != nil {
		return man, fmt.Errorf("backup: snapshot the catalog: %w", err)
	}
	// The blobs to copy are those the snapshot references, not what the
	// store holds now: a file replaced during a long backup would
	// otherwise be missing from it, or an orphan be copied for nothing.
	var digests []string
	if opt.Blobs != nil {
		if opt.Referenced == nil {
			return man, errors.New("backup: with files, Referenced is required")
		}
		if err := tmp.Sync(); err != nil {
			return man, err
		}
		if digests, err = opt.Referenced(tmp.Name()); err != nil {
			return man, fmt.Errorf("backup: list the snapshot's files: %w", err)
		}
		man.Blobs = len(digests)
	}
	data, _ := json.MarshalIndent(man, "", "  ")
	if err := addBytes(tw, "MANIFEST.json", data, 0o644); err != nil {
		return man, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return man, err
	}
	if err := addFile(tw, "catalog.db", tmp, 0o600); err != nil {
		return man, err
	}
	for _, k := range keyFiles {
		f, err := os.Open(filepath.Join(opt.DataDir, filepath.FromSlash(k)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return man, fmt.Errorf("backup: %w", err)
		}
		err = addFile(tw, "keys/"+k, f, 0o600)
		f.Close()
		if err != nil {
			return man, err
		}
	}
	if opt.ConfigFile != "" {
		f, err := os.Open(opt.ConfigFile)
		if err != nil {
			return man, fmt.Errorf("backup: config file: %w", err)
		}
		err = addFile(tw, "config/"+filepath.Base(opt.ConfigFile), f, 0o600)
		f.Close()
		if err != nil {
			return man, err
		}
	}
	for _, d := range digests {
		if err := copyBlob(ctx, tw, opt.Blobs, d, man.Created); err != nil {
			return man, err
		}
	}
	return man, tw.Close()
}

func copyBlob(ctx context.Context, tw *tar.Writer, blobs node.Blobs, digest string, at time.Time) error {
	br, err := blobs.Open(ctx, digest)
	if errors.Is(err, node.ErrNotFound) {
		return fmt.Errorf("backup: file %s was deleted while the backup ran; run it again (nothing was written to its final name)", digest)
	}
	if err != nil {
		return fmt.Errorf("backup: read %s: %w", digest, err)
	}
	defer br.Close()
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/" + digest, Mode: 0o600, Size: br.Size(), ModTime: at}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, br); err != nil {
		return fmt.Errorf("backup: copy %s: %w", digest, err)
	}
	return nil
}

func addBytes(tw *tar.Writer, name string, data []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Now()}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func addFile(tw *tar.Writer, name string, f *os.File, mode int64) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Summary is what a restore brought back.
type Summary struct {
	Manifest Manifest
	Keys     []string
	Config   []string
	Blobs    int
}

// Restore unpacks a backup into an empty data folder. Blobs go through
// blobs (the store the restored node will use) with their digest checked;
// the catalog is written last, so an interrupted restore never leaves a
// folder that looks complete.
func Restore(ctx context.Context, r io.Reader, dataDir string, blobs func() (node.Blobs, error)) (Summary, error) {
	var sum Summary
	if _, err := os.Stat(filepath.Join(dataDir, "catalog.db")); err == nil {
		return sum, fmt.Errorf("%s already holds a catalog: restore into an empty data folder (nothing was changed)", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return sum, err
	}
	tr := tar.NewReader(r)
	var store node.Blobs
	catalogTmp := ""
	defer func() {
		if catalogTmp != "" {
			os.Remove(catalogTmp)
		}
	}()
	for first := true; ; first = false {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, fmt.Errorf("restore: read backup: %w", err)
		}
		name := path.Clean(h.Name)
		if strings.HasPrefix(name, "..") || strings.HasPrefix(name, "/") {
			return sum, fmt.Errorf("restore: entry %q escapes the data folder", h.Name)
		}
		if first != (name == "MANIFEST.json") {
			return sum, fmt.Errorf("restore: not a Communs backup (first entry %q)", h.Name)
		}
		switch {
		case name == "MANIFEST.json":
			if err := json.NewDecoder(tr).Decode(&sum.Manifest); err != nil || sum.Manifest.Format != 1 {
				return sum, fmt.Errorf("restore: unreadable or unknown manifest (format %d): %v", sum.Manifest.Format, err)
			}
		case name == "catalog.db":
			f, err := os.CreateTemp(dataDir, ".restore-catalog-*")
			if err != nil {
				return sum, err
			}
			catalogTmp = f.Name()
			_, err = io.Copy(f, tr)
			if err == nil {
				err = f.Sync()
			}
			f.Close()
			if err != nil {
				return sum, fmt.Errorf("restore: catalog: %w", err)
			}
		case strings.HasPrefix(name, "keys/") || strings.HasPrefix(name, "config/"):
			rel := strings.TrimPrefix(strings.TrimPrefix(name, "keys/"), "config/")
			dst := filepath.Join(dataDir, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return sum, err
			}
			if err := writeFile(dst, tr); err != nil {
				return sum, fmt.Errorf("restore: %s: %w", name, err)
			}
			if strings.HasPrefix(name, "keys/") {
				sum.Keys = append(sum.Keys, rel)
			} else {
				sum.Config = append(sum.Config, dst)
			}
		case strings.HasPrefix(name, "blobs/"):
			want := strings.TrimPrefix(name, "blobs/")
			if store == nil {
				if store, err = blobs(); err != nil {
					return sum, err
				}
			}
			if _, err := store.Put(ctx, tr, want); err != nil {
				return sum, fmt.Errorf("restore: blob %s: %w", want, err)
			}
			sum.Blobs++
		}
	}
	if catalogTmp == "" {
		return sum, errors.New("restore: the backup holds no catalog")
	}
	if err := os.Rename(catalogTmp, filepath.Join(dataDir, "catalog.db")); err != nil {
		return sum, err
	}
	catalogTmp = ""
	return sum, nil
}

func writeFile(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst+".tmp", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}
