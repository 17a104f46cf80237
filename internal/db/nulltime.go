package db

import "time"

// NullTime is t for a nullable TIMESTAMPTZ column: nil when t is zero,
// else t in UTC.
func NullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// TimeOf reads a nullable TIMESTAMPTZ column: the zero time for NULL,
// else the time in UTC.
func TimeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
