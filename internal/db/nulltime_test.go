package db

import (
	"testing"
	"time"
)

func TestNullTime(t *testing.T) {
	if NullTime(time.Time{}) != nil {
		t.Fatal("zero time is not NULL")
	}
	local := time.Date(2026, 12, 4, 23, 0, 0, 0, time.FixedZone("X", 3600))
	p := NullTime(local)
	if p == nil || p.Location() != time.UTC || !p.Equal(local) {
		t.Fatalf("NullTime = %v", p)
	}
	if !TimeOf(nil).IsZero() {
		t.Fatal("NULL is not the zero time")
	}
	if got := TimeOf(&local); got.Location() != time.UTC || !got.Equal(local) {
		t.Fatalf("TimeOf = %v", got)
	}
}
