//go:build !unix

package ledger

import (
	"fmt"
	"os"
)

func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ledger: lock file: %w", err)
	}
	return f, nil
}
