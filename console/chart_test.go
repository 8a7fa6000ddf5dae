package console

import (
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

func TestAlertChart(t *testing.T) {
	now := time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC)
	as := []labtrust.Alert{
		{Last: now, Severity: "low"},
		{Last: now.Add(-2 * time.Hour), Severity: "high"},
		{Last: now.AddDate(0, 0, -3), Severity: "medium"},
		{Last: now.AddDate(0, 0, -20), Severity: "high"}, // too old
	}
	ch := alertChart(as, now)
	if len(ch.Bars) != 14 {
		t.Fatalf("%d bars", len(ch.Bars))
	}
	last, three := ch.Bars[13], ch.Bars[10]
	if last.Count != 2 || !last.High || last.Label != "Nov 29" || three.Count != 1 || three.High || ch.Bars[0].Count != 0 {
		t.Fatalf("bars %+v / %+v", last, three)
	}
	if last.H != 120 || three.H != 60 || ch.Summary != "3 alerts in the last 14 days; the busiest day had 2." {
		t.Fatalf("scale: %d %d %q", last.H, three.H, ch.Summary)
	}
}
