package blob

import (
	"fmt"
	"io"
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

// createFile creates a new file, mode 0644 whatever the umask (as Put
// leaves blobs), as a bare descriptor.
func createFile(name string) (io.WriteCloser, error) {
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: name, Err: err}
	}
	if err := unix.Fchmod(fd, 0o644); err != nil {
		unix.Close(fd)
		os.Remove(name)
		return nil, &os.PathError{Op: "chmod", Path: name, Err: err}
	}
	return &fdWriter{fd: fd}, nil
}

type fdWriter struct{ fd int }

func (w *fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(w.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

func (w *fdWriter) Close() error {
	if w.fd < 0 {
		return nil
	}
	err := unix.Close(w.fd)
	w.fd = -1
	return err
}

// rename is rename(2): os.Rename first stats the new name to refuse
// replacing a folder, which a blob's path never is (its name is a digest).
func rename(from, to string) error {
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// withWriteback lets copyHashed start the file's writeback as it goes: by
// the time the caller fsyncs, most bytes are already on their way to disk.
func withWriteback(f *os.File) io.Writer { return writebackFile{f} }

type writebackFile struct{ *os.File }

// startWriteback asks the kernel to start writing [off, off+n) to disk
// (sync_file_range SYNC_FILE_RANGE_WRITE) and does not wait for it. It is a
// hint, not a guarantee: fsync still makes the file durable, so an error
// only loses the head start.
func (w writebackFile) startWriteback(off, n int64) {
	rc, err := w.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
