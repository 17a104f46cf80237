package secrets

import (
	"errors"
	"testing"
	"time"
)

// TestPasswordGate checks the process-wide bound on bcrypt work: with every
// slot taken, hashing, checking and burning answer ErrBusy without doing any
// bcrypt work; a caller that waits gets the slot once one frees up.
func TestPasswordGate(t *testing.T) {
	defer SetPasswordConcurrency(0, DefaultPasswordWait)
	old := PasswordCost
	PasswordCost = 4
	defer func() { PasswordCost = old }()
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}

	SetPasswordConcurrency(2, 0)
	g := gate.Load()
	var held []func()
	for range 2 {
		release, err := g.acquire()
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		held = append(held, release)
	}
	before := PasswordChecks()
	for name, call := range map[string]func() error{
		"fail/hash-busy":  func() error { _, err := HashPassword("correct horse battery"); return err },
		"fail/check-busy": func() error { return CheckPassword(hash, "correct horse battery") },
		"fail/burn-busy":  func() error { return BurnPasswordCheck("correct horse battery") },
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ErrBusy) {
				t.Fatalf("err %v, want ErrBusy", err)
			}
		})
	}
	if n := PasswordChecks() - before; n != 0 {
		t.Fatalf("%d bcrypt comparisons ran while busy", n)
	}

	// A waiting caller gets the slot when one is released.
	SetPasswordConcurrency(1, time.Minute)
	g = gate.Load()
	release, err := g.acquire()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- CheckPassword(hash, "correct horse battery") }()
	release()
	if err := <-done; err != nil {
		t.Fatalf("ok/waited-for-slot: %v", err)
	}
	if err := CheckPassword(hash, "wrong"); !errors.Is(err, ErrPasswordMismatch) {
		t.Fatalf("fail/mismatch: %v", err)
	}
	if n := PasswordChecks() - before; n != 2 {
		t.Fatalf("PasswordChecks counted %d, want 2", n)
	}
	for _, r := range held {
		r()
	}
}
