package ledger

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and the RFC 6962 root hash at that size. Extension lines, if any, are
// kept verbatim (without their newlines).
type Checkpoint struct {
	Origin     string
	Size       uint64
	Root       [32]byte
	Extensions []string
}

// Marshal returns the checkpoint body: origin, size, base64 root and any
// extension lines, each followed by a newline.
func (c Checkpoint) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(base64.StdEncoding.EncodeToString(c.Root[:]))
	b.WriteByte('\n')
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseCheckpoint parses a checkpoint body (the text of the signed note,
// without signatures). It is strict: the size must be a decimal without
// leading zeros, the root canonical base64 of 32 bytes, and the body must end
// with a newline.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return c, errors.New("checkpoint: body does not end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return c, errors.New("checkpoint: fewer than 3 lines")
	}
	if lines[0] == "" {
		return c, errors.New("checkpoint: empty origin line")
	}
	c.Origin = lines[0]
	size, err := parseDecimal(lines[1])
	if err != nil {
		return c, fmt.Errorf("checkpoint: size line: %w", err)
	}
	c.Size = size
	root, err := decodeHash(lines[2])
	if err != nil {
		return c, fmt.Errorf("checkpoint: root line: %w", err)
	}
	c.Root = root
	for i, e := range lines[3:] {
		if e == "" {
			return c, fmt.Errorf("checkpoint: extension line %d is empty", i+1)
		}
	}
	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	return c, nil
}

// OpenCheckpoint verifies a signed checkpoint note with v, checks its origin
// and parses its body. It fails if the note has no valid signature by v, if
// any signature by v's key is invalid, or if the origin differs.
func OpenCheckpoint(msg []byte, origin string, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unv *note.UnverifiedNoteError
		if errors.As(err, &unv) {
			return Checkpoint{}, fmt.Errorf("checkpoint: no signature by key %s", v.Name())
		}
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != origin {
		// Origins are public log names, not PHI.
		return Checkpoint{}, fmt.Errorf("checkpoint: origin %q, want %q", c.Origin, origin)
	}
	return c, nil
}

// noteText returns the text part of a signed note (everything up to and
// including the newline before the blank line that precedes the signatures).
func noteText(msg []byte) ([]byte, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("signed note: no blank line before the signatures")
	}
	return msg[:i+1], nil
}

func parseDecimal(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a decimal number without leading zeros")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal number")
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("number out of range")
	}
	return v, nil
}

func decodeHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return h, errors.New("not the canonical base64 of a 32-byte hash")
	}
	copy(h[:], b)
	return h, nil
}

// historyRecord is one checkpoint in checkpoints.log.
type historyRecord struct {
	Offset int64  // byte offset of the record's length line
	Note   []byte // the signed note
}

// maxNoteSize bounds one record of checkpoints.log; real checkpoints are a
// few hundred bytes, and a bound keeps a corrupt length from allocating
// gigabytes.
const maxNoteSize = 1 << 20

// HistoryError says where checkpoints.log is malformed.
type HistoryError struct {
	Record int   // zero-based record number
	Offset int64 // byte offset of the record's length line
	Reason string
	Torn   bool // the file ends inside this record, as a crash mid-append leaves it
}

func (e *HistoryError) Error() string {
	return fmt.Sprintf("checkpoints.log: record %d at byte %d: %s", e.Record, e.Offset, e.Reason)
}

// readHistory calls fn for each complete record of checkpoints.log. It
// returns the offset just past the last complete record and, if the file
// does not end there, a *HistoryError describing the first bad record.
func readHistory(r io.Reader, fn func(rec historyRecord) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	for k := 0; ; k++ {
		line, err := br.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			return off, nil
		}
		if err != nil {
			if err == io.EOF {
				return off, &HistoryError{Record: k, Offset: off, Reason: "truncated length line", Torn: true}
			}
			if err == bufio.ErrBufferFull {
				return off, &HistoryError{Record: k, Offset: off, Reason: "overlong length line"}
			}
			return off, err
		}
		n, perr := parseDecimal(string(line[:len(line)-1]))
		if perr != nil || n == 0 || n > maxNoteSize {
			return off, &HistoryError{Record: k, Offset: off, Reason: "length line is not a decimal note size"}
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(br, msg); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return off, &HistoryError{Record: k, Offset: off, Reason: "truncated note", Torn: true}
			}
			return off, err
		}
		if err := fn(historyRecord{Offset: off, Note: msg}); err != nil {
			return off, err
		}
		off += int64(len(line)) + int64(n)
	}
}

// appendHistoryRecord appends one record (length line and note) to b.
func appendHistoryRecord(b, msg []byte) []byte {
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, '\n')
	return append(b, msg...)
}
