package sca_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

var ctx = context.Background()

// clock is a settable clock shared by the service and its throttle.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	d     *db.DB
	svc   *sca.Service
	clock *clock
	box   *secrets.Box
}

// start is the fixtures' clock: the middle of a 30-second TOTP step.
var start = time.Date(2026, 12, 4, 10, 0, 15, 0, time.UTC)

// mustService builds a Service on d with cfg's zero fields filled in.
func mustService(t testing.TB, d *db.DB, cfg sca.Config) fixture {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: start}
	cfg.Store = sca.NewGormStore(d)
	cfg.Box = box
	cfg.Throttle = throttle.NewStore(d.DB, c.now)
	cfg.Now = c.now
	svc, err := sca.New(cfg)
	if err != nil {
		t.Fatalf("sca.New: %v", err)
	}
	return fixture{d: d, svc: svc, clock: c, box: box}
}

// node is another Service on the fixture's database, box and clock: a
// second node of the same deployment.
func (f fixture) node(t *testing.T, cfg sca.Config) *sca.Service {
	t.Helper()
	cfg.Store = sca.NewGormStore(f.d)
	cfg.Box = f.box
	cfg.Throttle = throttle.NewStore(f.d.DB, f.clock.now)
	cfg.Now = f.clock.now
	svc, err := sca.New(cfg)
	if err != nil {
		t.Fatalf("sca.New: %v", err)
	}
	return svc
}

// code is the TOTP code of secret at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a 6-digit code that is none of secret's codes around at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	near := map[string]bool{}
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		near[code(t, secret, at.Add(d))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// mustTOTP enrols and confirms a TOTP factor for customerID at the
// fixture's clock and returns its secret; the confirming code's step is
// used.
func (f fixture) mustTOTP(t *testing.T, customerID string) string {
	t.Helper()
	e, err := f.svc.BeginTOTP(ctx, customerID, "user-"+customerID)
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	if err := f.svc.ConfirmTOTP(ctx, customerID, code(t, e.Secret, f.clock.now())); err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return e.Secret
}

// wantErr fails unless err is exactly want: nil for nil, else errors.Is
// for each of want (and, for one sentinel other than throttle.ErrLocked, err
// being that very error).
func wantErr(t *testing.T, err error, want ...error) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("err = %v, want %v", err, want)
		}
	}
	if len(want) == 1 && want[0] != throttle.ErrLocked && err != want[0] {
		t.Fatalf("err = %#v, want exactly %v", err, want[0])
	}
}

func TestNew(t *testing.T) {
	key := make([]byte, 32)
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.MustSQLite(t)
	store, th := sca.NewGormStore(d), throttle.NewStore(d.DB, nil)
	bad := sca.DefaultSettings()
	bad.LowValue.MaxCount = 0
	for name, tc := range map[string]struct {
		cfg  sca.Config
		want string
	}{
		"ok/defaults":       {sca.Config{Store: store, Box: box, Throttle: th}, ""},
		"fail/no store":     {sca.Config{Box: box, Throttle: th}, "sca: invalid argument: sca.New needs a Store, a Box and a Throttle"},
		"fail/no box":       {sca.Config{Store: store, Throttle: th}, "sca: invalid argument: sca.New needs a Store, a Box and a Throttle"},
		"fail/no throttle":  {sca.Config{Store: store, Box: box}, "sca: invalid argument: sca.New needs a Store, a Box and a Throttle"},
		"fail/bad settings": {sca.Config{Store: store, Box: box, Throttle: th, Settings: bad}, "sca: invalid argument: low-value max count must be at least 1"},
	} {
		t.Run(name, func(t *testing.T) {
			svc, err := sca.New(tc.cfg)
			if tc.want == "" {
				if err != nil || svc == nil {
					t.Fatalf("New = %v, %v", svc, err)
				}
				return
			}
			if !errors.Is(err, sca.ErrInvalid) || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}
