package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/labtrust/labtrust/store"
	"github.com/labtrust/labtrust/store/storetest"
)

// TestNoticesPaged: reading an incident's notices a page at a time gives
// each exactly once, in ID order, across page boundaries, and a write in
// the callback (as an export gives monitoring codes) does not wait.
func TestNoticesPaged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		now := time.Now()
		for inc := int64(1); inc <= 2; inc++ {
			var rows []store.NoticeRow
			for i := range 2500 {
				rows = append(rows, store.NoticeRow{Incident: inc, CodeHash: fmt.Appendf(nil, "c%d-%d", inc, i), Patient: fmt.Appendf(nil, "p%d", i),
					Channel: "mail", Language: "en", Status: "prepared", CreatedAt: now, Body: []byte("sealed")})
			}
			for len(rows) > 0 {
				n := min(1000, len(rows))
				if _, err := db.AddNotices(ctx, rows[:n]); err != nil {
					t.Fatal(err)
				}
				rows = rows[n:]
			}
		}
		var last int64
		n := 0
		err = db.Notices(ctx, 2, func(r store.NoticeRow) error {
			if r.Incident != 2 || r.ID <= last {
				t.Fatalf("notice %d after %d (incident %d)", r.ID, last, r.Incident)
			}
			last = r.ID
			n++
			if n%1000 == 999 {
				return db.SetNoticeStatus(ctx, r.ID, "sent", now)
			}
			return nil
		})
		if err != nil || n != 2500 {
			t.Fatalf("%d notices, %v", n, err)
		}
	})
}
