package secrets

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ErrPasswordMismatch is returned by CheckPassword for a wrong password.
var ErrPasswordMismatch = errors.New("secrets: password mismatch")

// ErrBusy is returned by HashPassword, CheckPassword and BurnPasswordCheck
// when every password-hashing slot of the process stayed taken for the whole
// bounded wait (see SetPasswordConcurrency). Nothing was checked: callers
// answer "busy, try again" (HTTP 503) and must not count it as a wrong
// password.
var ErrBusy = errors.New("secrets: too many password checks in progress")

// PasswordCost is the bcrypt cost used for new hashes.
var PasswordCost = 11

// passwordGate bounds the bcrypt work of the process: anonymous sign-up and
// sign-in requests must not be a lever that spends every CPU on bcrypt.
type passwordGate struct {
	slots chan struct{}
	wait  time.Duration
}

var gate atomic.Pointer[passwordGate]

// DefaultPasswordWait is how long a password operation waits for a free
// slot before ErrBusy, unless SetPasswordConcurrency says otherwise.
const DefaultPasswordWait = 2 * time.Second

func init() { SetPasswordConcurrency(0, DefaultPasswordWait) }

// SetPasswordConcurrency sets how many bcrypt operations (hash or compare)
// may run at once in this process — slots ≤ 0 means GOMAXPROCS, at least 2 —
// and how long a caller waits for a free slot before ErrBusy (wait ≤ 0: not
// at all). Operations already running or waiting finish under the old
// setting.
func SetPasswordConcurrency(slots int, wait time.Duration) {
	if slots <= 0 {
		slots = max(runtime.GOMAXPROCS(0), 2)
	}
	gate.Store(&passwordGate{slots: make(chan struct{}, slots), wait: max(wait, 0)})
}

// acquire takes a slot, waiting at most g.wait; release gives it back.
func (g *passwordGate) acquire() (release func(), err error) {
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	if g.wait <= 0 {
		return nil, ErrBusy
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	}
}

// OccupyPasswordSlots takes n slots of the current gate as if n password
// operations were running, waiting as long as needed, until release is
// called. Tests use it to reach the busy state (ErrBusy) deterministically.
func OccupyPasswordSlots(n int) (release func()) {
	g := gate.Load()
	for range n {
		g.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-g.slots
		}
	}
}

// passwordChecks counts bcrypt comparisons run (CheckPassword and
// BurnPasswordCheck), for PasswordChecks.
var passwordChecks atomic.Int64

// PasswordChecks returns how many bcrypt comparisons (CheckPassword and
// BurnPasswordCheck calls that got a slot) this process has run. Tests read it
// before and after to count the passwords a code path checked.
func PasswordChecks() int64 { return passwordChecks.Load() }

// HashPassword returns a bcrypt hash of password. Errors: ErrBusy, or an
// error for a password longer than 72 bytes.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		return "", errors.New("secrets: password longer than 72 bytes")
	}
	release, err := gate.Load().acquire()
	if err != nil {
		return "", err
	}
	defer release()
	h, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	return string(h), err
}

// CheckPassword compares password with a hash made by HashPassword in
// constant time. Errors: ErrPasswordMismatch, ErrBusy (nothing was compared).
func CheckPassword(hash, password string) error {
	release, err := gate.Load().acquire()
	if err != nil {
		return err
	}
	defer release()
	passwordChecks.Add(1)
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		return ErrPasswordMismatch
	}
	return nil
}

// dummyHash is compared against when a user does not exist, so that a lookup
// miss costs the same time as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("bankbridge-timing-equaliser"), 11)

// BurnPasswordCheck spends the time of one CheckPassword, for unknown users.
// It returns ErrBusy, like CheckPassword, when no slot was free: the caller
// answers busy exactly as it would for a known user.
func BurnPasswordCheck(password string) error {
	release, err := gate.Load().acquire()
	if err != nil {
		return err
	}
	defer release()
	passwordChecks.Add(1)
	_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
	return nil
}
