//go:build !linux

package blob

import (
	"errors"
	"io"
	"os"
)

// syncFiles fsyncs each file: syncfs is Linux's.
func syncFiles(_ string, files []string) error {
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// syncDirs fsyncs each folder.
func syncDirs(_ string, dirs []string) error {
	for _, d := range dirs {
		if err := syncDir(d); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	return nil
}

// createFile creates a new file, mode 0644 whatever the umask (as Put
// leaves blobs).
func createFile(name string) (io.WriteCloser, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(name)
		return nil, err
	}
	return f, nil
}

func rename(from, to string) error { return os.Rename(from, to) }

// withWriteback is f itself: starting the writeback early is a Linux call.
func withWriteback(f *os.File) io.Writer { return f }
