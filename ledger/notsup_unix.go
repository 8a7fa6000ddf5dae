//go:build unix

package ledger

import (
	"errors"

	"golang.org/x/sys/unix"
)

func isNotSupported(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM)
}
