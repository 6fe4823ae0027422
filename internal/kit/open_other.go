//go:build !unix

package kit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// openDir and openIn without openat: a check then an open, compared with
// os.SameFile. Kits are imported on Unix servers; this keeps the package
// building elsewhere with the same refusals, not the same race freedom.
func openDir(dir string) (*os.File, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, errors.New("the kit folder is a symbolic link; links are not followed (import the folder it points to)")
	}
	if !fi.IsDir() {
		return nil, errors.New("not a folder")
	}
	return os.Open(dir)
}

func openIn(d *os.File, name string) (*os.File, os.FileInfo, error) {
	p := filepath.Join(d.Name(), name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, nil, err
	}
	switch m := fi.Mode(); {
	case m&os.ModeSymlink != 0:
		return nil, nil, errSymlink
	case m.IsDir():
		return nil, nil, errors.New("is a folder, not a file")
	case !m.IsRegular():
		return nil, nil, errors.New("is not a regular file (device, named pipe or socket)")
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot be read: %w", err)
	}
	fi2, err := f.Stat()
	if err != nil || !os.SameFile(fi, fi2) {
		f.Close()
		return nil, nil, errors.New("changed while it was being checked; import again")
	}
	return f, fi2, nil
}

func openFile(d *os.File, name string) (io.ReadCloser, int64, error) {
	f, fi, err := openIn(d, name)
	if err != nil {
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
