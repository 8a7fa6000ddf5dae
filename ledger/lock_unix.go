//go:build unix

package ledger

import (
	"errors"
	"fmt"
	"os"

	"github.com/labtrust/labtrust"
	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive advisory lock on the ledger directory so a
// second writer (another process, or another Log in this one) fails fast
// instead of interleaving tiles.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ledger: lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("ledger: %w", labtrust.ErrLocked)
		}
		return nil, fmt.Errorf("ledger: lock: %w", err)
	}
	return f, nil
}
