package demo

import "time"

// Config sizes a synthetic lab and its event stream. The zero value of every
// field means "use the default"; see WithDefaults.
type Config struct {
	// Seed selects the lab; equal configurations give identical labs and
	// identical streams.
	Seed uint64 `json:"seed"`
	// Patients is the number of patients (computed on demand, never stored).
	Patients int `json:"patients"`
	// Staff is the number of staff accounts.
	Staff int `json:"staff"`
	// Sites is the number of collection sites (at most MaxSites).
	Sites int `json:"sites"`
	// Events is exactly how many events Stream emits.
	Events int64 `json:"events"`
	// Days is the length of the simulated period.
	Days int `json:"days"`
	// Start is when the simulated period begins (UTC, truncated to the
	// microsecond).
	Start time.Time `json:"start"`
}

// Limits of a configuration. WithDefaults clamps to them.
const (
	MinStaff = 12
	MaxSites = 200
	// MaxPatients keeps MRNs within eight digits.
	MaxPatients = 99_999_999
)

// DefaultStart is the fixed start of the simulated period when Config.Start
// is zero, so runs are reproducible.
var defaultStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// WithDefaults returns c with zero fields replaced by defaults and values
// clamped to what the generator supports: Seed 1, Patients 5000, Staff one per
// 100 patients but at least MinStaff, Sites 3 (at most MaxSites, and few enough
// that every site has its own front desk, phlebotomist and lab tech and the
// lab has every role), Events 50000, Days 14, Start 2026-10-01T00:00:00Z.
func (c Config) WithDefaults() Config {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Patients <= 0 {
		c.Patients = 5000
	}
	c.Patients = min(c.Patients, MaxPatients)
	if c.Staff <= 0 {
		c.Staff = c.Patients / 100
	}
	c.Staff = max(c.Staff, MinStaff)
	if c.Sites <= 0 {
		c.Sites = 3
	}
	c.Sites = max(1, min(c.Sites, MaxSites, (c.Staff-4)/3))
	if c.Events <= 0 {
		c.Events = 50000
	}
	if c.Days <= 0 {
		c.Days = 14
	}
	c.Days = min(c.Days, 3660)
	if c.Start.IsZero() {
		c.Start = defaultStart
	}
	c.Start = c.Start.UTC().Truncate(time.Microsecond)
	return c
}

// End is the end of the simulated period (exclusive).
func (c Config) End() time.Time { return c.Start.Add(time.Duration(c.Days) * 24 * time.Hour) }
