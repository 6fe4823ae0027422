//go:build !linux

package blob

import (
	"errors"
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
