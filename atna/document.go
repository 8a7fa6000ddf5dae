package atna

import (
	"context"
	"fmt"
	"io"

	"github.com/labtrust/labtrust"
)

// MaxDocument bounds one AuditMessage document read whole.
const MaxDocument = 4 << 20

// ParseDocument reads one AuditMessage XML document from r (a file, or an
// HTTP body) into sink: an event, or a reject whose Raw is the document.
// It returns an error only if reading or the sink fails.
func ParseDocument(ctx context.Context, source string, r io.Reader, sink labtrust.Sink) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxDocument+1))
	if err != nil {
		return err
	}
	if len(b) > MaxDocument {
		return sink.Reject(ctx, labtrust.Reject{Source: source, Format: "atna", Position: "document",
			Reason: fmt.Sprintf("AuditMessage exceeds %d bytes", MaxDocument), Raw: b[:MaxDocument]})
	}
	e, err := Parse(source, b)
	if err != nil {
		return sink.Reject(ctx, labtrust.Reject{Source: source, Format: "atna", Position: "document", Reason: err.Error(), Raw: b})
	}
	return sink.Event(ctx, e)
}
