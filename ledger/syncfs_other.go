//go:build !linux

package ledger

import (
	"errors"
	"os"
)

func syncfs(*os.File) error { return errors.ErrUnsupported }
