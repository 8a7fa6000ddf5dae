//go:build !unix

package ledger

func isNotSupported(error) bool { return false }
