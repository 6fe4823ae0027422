//go:build unix

package kit

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// openDir opens a kit folder without following a symbolic link in its last
// component: the descriptor it returns is the folder every file is then
// opened from, so a folder swapped for a link after the check changes
// nothing.
func openDir(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			if fi, lerr := os.Lstat(dir); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
				return nil, errors.New("the kit folder is a symbolic link; links are not followed (import the folder it points to)")
			}
			return nil, errors.New("not a folder")
		}
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// openIn opens name, one path component, inside the folder d. It refuses
// anything but a regular file with a single link, and never follows a
// symbolic link: lstat-like fstatat first (so a device, FIFO or socket is
// never opened), then openat with O_NOFOLLOW and O_NONBLOCK (a FIFO put
// there in between cannot block the import), then fstat on the descriptor
// must show the same regular file.
func openIn(d *os.File, name string) (*os.File, os.FileInfo, error) {
	fd, _, err := openRaw(d, name)
	if err != nil {
		return nil, nil, err
	}
	// Reads of a regular file never block; clear O_NONBLOCK anyway so the
	// descriptor behaves like one os.Open returns.
	_ = unix.SetNonblock(fd, false)
	f := os.NewFile(uintptr(fd), name)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cannot be read: %w", err)
	}
	return f, fi, nil
}

// openFile is openIn for bulk reads: the same checks, and a bare
// descriptor instead of an os.File (whose setup costs three more system
// calls per file, a third of the cost of a small file).
func openFile(d *os.File, name string) (io.ReadCloser, int64, error) {
	fd, size, err := openRaw(d, name)
	if err != nil {
		return nil, 0, err
	}
	return &fdReader{fd: fd}, size, nil
}

// openRaw does openIn's checks and returns the descriptor and the size.
func openRaw(d *os.File, name string) (int, int64, error) {
	dfd := int(d.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, 0, os.ErrNotExist
		}
		return -1, 0, fmt.Errorf("cannot be read: %w", err)
	}
	if err := checkMode(st); err != nil {
		return -1, 0, err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return -1, 0, errSymlink
		}
		if errors.Is(err, unix.ENOENT) {
			return -1, 0, os.ErrNotExist
		}
		return -1, 0, fmt.Errorf("cannot be read: %w", err)
	}
	var st2 unix.Stat_t
	if err := unix.Fstat(fd, &st2); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("cannot be read: %w", err)
	}
	if err := checkMode(st2); err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	if st2.Dev != st.Dev || st2.Ino != st.Ino {
		unix.Close(fd)
		return -1, 0, errors.New("changed while it was being checked; import again")
	}
	return fd, st2.Size, nil
}

// fdReader reads a regular file's descriptor (O_NONBLOCK does not apply to
// regular files: a read waits for the disk).
type fdReader struct{ fd int }

func (r *fdReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(r.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (r *fdReader) Close() error {
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// checkMode says why anything but a regular file with one link is refused.
func checkMode(st unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if st.Nlink > 1 {
			return fmt.Errorf("has %d hard links; a kit must hold its own copy of each file (a hard link can share a file from elsewhere on this system)", st.Nlink)
		}
		return nil
	case unix.S_IFLNK:
		return errSymlink
	case unix.S_IFDIR:
		return errors.New("is a folder, not a file")
	case unix.S_IFIFO:
		return errors.New("is a named pipe (FIFO), not a regular file")
	case unix.S_IFSOCK:
		return errors.New("is a socket, not a regular file")
	case unix.S_IFCHR, unix.S_IFBLK:
		return errors.New("is a device, not a regular file")
	}
	return errors.New("is not a regular file")
}
