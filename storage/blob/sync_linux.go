package blob

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFiles makes the bytes of files (all under root) durable with one
// syncfs of root's filesystem: one journal commit for the whole batch
// instead of one per file.
func syncFiles(root string, _ []string) error { return syncFS(root) }

// syncDirs makes the entries of dirs (all under root) durable, the same
// way.
func syncDirs(root string, _ []string) error { return syncFS(root) }

func syncFS(root string) error {
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", root, err)
	}
	return nil
}
