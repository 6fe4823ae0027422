//go:build unix

package kit

import (
	"errors"
	"fmt"
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
	dfd := int(d.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil, os.ErrNotExist
		}
		return nil, nil, fmt.Errorf("cannot be read: %w", err)
	}
	if err := checkMode(st); err != nil {
		return nil, nil, err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, nil, errSymlink
		}
		if errors.Is(err, unix.ENOENT) {
			return nil, nil, os.ErrNotExist
		}
		return nil, nil, fmt.Errorf("cannot be read: %w", err)
	}
	var st2 unix.Stat_t
	if err := unix.Fstat(fd, &st2); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("cannot be read: %w", err)
	}
	if err := checkMode(st2); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	if st2.Dev != st.Dev || st2.Ino != st.Ino {
		unix.Close(fd)
		return nil, nil, errors.New("changed while it was being checked; import again")
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
