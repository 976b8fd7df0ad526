//go:build unix

package file

import (
	"io/fs"
	"syscall"
)

// fileID identifies a file or directory whatever the path to it: its
// device and inode.
type fileID struct{ dev, ino uint64 }

// idOf returns the identity of the file info describes, if the system
// tells it.
func idOf(info fs.FileInfo) (fileID, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true // the fields' types differ by platform
}
