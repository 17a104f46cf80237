// Package throttle counts sign-in and sign-up attempts in the database, so
// that every node shares one count, and decides before any password is
// checked whether an attempt may go on. It is the one throttle of every
// surface where a person proves who they are: the bank customer's login
// (oauth), the portal's sign-in and sign-up and the staff console's sign-in
// (partners).
//
// # Counting
//
// Every attempt is counted BEFORE its password is checked, by one atomic
// upsert per counter (INSERT … ON CONFLICT … DO UPDATE … RETURNING, the same
// statement on PostgreSQL and SQLite), so neither parallel requests nor many
// nodes slip past the count: an attempt that finds a counter at its limit is
// refused without any password being checked. A counter is a fixed window: at
// most Rule.Limit attempts per Rule.Window, starting with the first attempt;
// the refusal lasts until the window ends.
//
// # Policy
//
// Three counters guard each sign-in surface (Policy), taken in this order:
//
//   - address: the attempts of one client address across all accounts
//     (Policy.Address, default 20 per 15 minutes). This is the budget against
//     password spraying, one password tried across many accounts.
//   - account at address: the attempts on one account from one client
//     address (Policy.AccountAddress, default 5 per 15 minutes). This is the
//     classic lockout, but it locks that address out of that account only:
//     an attacker at one address cannot lock the owner out at another.
//   - account: the attempts on one account from every address together
//     (Policy.Account, default 50 per 15 minutes), a ceiling against a
//     guesser spread over many addresses. Only attempts the two counters above
//     admitted reach it, so one address adds at most 5 to it: locking one
//     account out for everyone takes 10 addresses, and locking out every one
//     of N accounts (all staff, say) takes N×50 attempts, that is at least
//     N×50/20 addresses a quarter of an hour.
//
// An attempt refused by a later counter is refunded on the counters that had
// already admitted it, so the counters count passwords checked. On success
// the account and account-at-address counters are reset and the address
// counter refunded: the address budget counts failures only, so a busy office
// behind one address is not locked out by its own successful sign-ins. On
// failure every count stands. An attempt whose password could not be checked
// (the server was busy, a storage error) is refunded everywhere (Cancel).
//
// Accounts are keyed by their normalised identifier whether or not such an
// account exists, so an unknown email or username gets exactly the answers,
// lockout included, of a known one.
//
// Sign-up has one counter per client address (SignUpRule, default 10 an
// hour), counted before the password is hashed and never refunded. Password
// hashing as a whole is also bounded per process (internal/secrets: a fixed
// number of concurrent bcrypt operations and a bounded wait, then "busy").
//
// # Client address
//
// The client address is the TCP peer (http.Request.RemoteAddr): an IPv4
// address, or the /64 prefix of an IPv6 address (one subscriber usually holds
// a whole /64). Forwarding headers are not read here: a header any client can
// write must not choose the counter it is charged to. Behind reverse proxies
// the composition root sets RemoteAddr to the client named by the trusted
// proxies' X-Forwarded-For (internal/httpx.TrustedProxies, --trusted-proxies);
// without that setting every client shares the proxy's address budget.
//
// Counter names are stored as hex SHA-256 (login_throttle.throttle_key): the
// table holds neither emails nor addresses, and no input can grow a key.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Rule is one fixed-window counter: at most Limit attempts per Window. A
// Limit of zero or less switches the counter off.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Policy is the sign-in throttle of one surface (see the package doc).
type Policy struct {
	// Address bounds the attempts of one client address across all accounts.
	Address Rule
	// AccountAddress bounds the attempts on one account from one address.
	AccountAddress Rule
	// Account bounds the attempts on one account from all addresses.
	Account Rule
}

// DefaultPolicy is the sign-in policy of every surface.
var DefaultPolicy = Policy{
	Address:        Rule{Limit: 20, Window: 15 * time.Minute},
	AccountAddress: Rule{Limit: 5, Window: 15 * time.Minute},
	Account:        Rule{Limit: 50, Window: 15 * time.Minute},
}

// SignUpRule bounds the sign-ups (anonymous password hashing) of one client
// address.
var SignUpRule = Rule{Limit: 10, Window: time.Hour}

// ErrLocked is what every refusal of this package matches (errors.Is); the
// error itself is a *LockedError.
var ErrLocked = errors.New("throttle: too many attempts")

// LockedError is a refusal: too many attempts until Until.
type LockedError struct {
	Until time.Time
}

// Error implements error.
func (e *LockedError) Error() string {
	return fmt.Sprintf("throttle: too many attempts, until %s", e.Until.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Store keeps the counters in login_throttle (migration 0004).
type Store struct {
	db  *gorm.DB
	now func() time.Time
}

// NewStore returns a Store on db with clock now (time.Now when nil).
func NewStore(db *gorm.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// counter is one counter after an attempt was counted on it.
type counter struct {
	key       string
	rule      Rule
	attempts  int
	windowEnd time.Time
}

func (c counter) refused() bool { return c.attempts > c.rule.Limit }

// keyOf names a counter: the hex SHA-256 of its parts.
func keyOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hit counts one attempt on key under r.
func (s *Store) hit(ctx context.Context, key string, r Rule) (counter, error) {
	c := []counter{{key: key, rule: r}}
	if err := s.hitAll(ctx, c); err != nil {
		return counter{}, err
	}
	return c[0], nil
}

// hitAll counts one attempt on each counter of cs with a key, atomically and
// all in one multi-row upsert (INSERT … ON CONFLICT … DO UPDATE … RETURNING,
// the same statement on PostgreSQL and SQLite), and sets their attempts and
// window ends: a new counter, or one whose window has ended, starts at 1; a
// counter already past its limit stays at limit+1 (refused); otherwise it
// goes up by one. Each row's limit is picked by its key, its window end
// comes in its VALUES.
func (s *Store) hitAll(ctx context.Context, cs []counter) error {
	now := s.clock()
	var limits strings.Builder
	var largs []any
	var keyed []counter
	for _, c := range cs {
		if c.key != "" {
			keyed = append(keyed, counter{key: c.key, attempts: 1, windowEnd: now.Add(c.rule.Window)})
			limits.WriteString(" WHEN ? THEN CAST(? AS INTEGER)")
			largs = append(largs, c.key, c.rule.Limit)
		}
	}
	if len(keyed) == 0 {
		return nil
	}
	set := `attempts = CASE WHEN login_throttle.window_end <= ? THEN 1
                  WHEN login_throttle.attempts > (CASE login_throttle.throttle_key` + limits.String() + ` END) THEN login_throttle.attempts
                  ELSE login_throttle.attempts + 1 END,
  window_end = CASE WHEN login_throttle.window_end <= ? THEN excluded.window_end ELSE login_throttle.window_end END,
  updated_at = excluded.updated_at`
	args := append([]any{now}, largs...)
	args = append(args, now)
	var rows []struct {
		ThrottleKey string
		Attempts    int
		WindowEnd   time.Time
	}
	if err := s.upsert(ctx, now, keyed, set, args, " RETURNING throttle_key, attempts, window_end", &rows); err != nil {
		return fmt.Errorf("throttle: count attempt: %w", err)
	}
	if len(rows) != len(keyed) {
		return fmt.Errorf("throttle: count attempt: %d rows, want %d", len(rows), len(keyed))
	}
	for i := range cs {
		for _, r := range rows {
			if cs[i].key != "" && r.ThrottleKey == cs[i].key {
				cs[i].attempts, cs[i].windowEnd = r.Attempts, r.WindowEnd.UTC()
			}
		}
	}
	return nil
}

// upsert runs one INSERT INTO login_throttle … VALUES (one row per counter
// of rows: its key, attempts and window end) ON CONFLICT (throttle_key) DO
// UPDATE SET set, with set's args, and suffix (a RETURNING clause scanned
// into dest, or ""). Every statement of this package that touches several
// counters is such an upsert with its rows in key order, so concurrent ones
// lock the rows they share in the same order and never deadlock.
func (s *Store) upsert(ctx context.Context, now time.Time, rows []counter, set string, setArgs []any, suffix string, dest any) error {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b counter) int { return strings.Compare(a.key, b.key) })
	var q strings.Builder
	q.WriteString(`INSERT INTO login_throttle (throttle_key, attempts, window_end, updated_at) VALUES `)
	args := make([]any, 0, 4*len(rows)+len(setArgs))
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?)")
		args = append(args, r.key, r.attempts, r.windowEnd, now)
	}
	q.WriteString("\nON CONFLICT (throttle_key) DO UPDATE SET " + set + suffix)
	args = append(args, setArgs...)
	if dest != nil {
		return s.db.WithContext(ctx).Raw(q.String(), args...).Scan(dest).Error
	}
	return s.db.WithContext(ctx).Exec(q.String(), args...).Error
}

// refund takes back one attempt counted by hit on each of cs (with a key),
// on those whose window still runs, in one statement. (A counter purged
// meanwhile comes back with no attempts.)
func (s *Store) refund(ctx context.Context, cs ...counter) error {
	var rows []counter
	for _, c := range cs {
		if c.key != "" {
			rows = append(rows, counter{key: c.key, windowEnd: c.windowEnd})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	err := s.upsert(ctx, s.clock(), rows, `attempts = CASE WHEN login_throttle.window_end = excluded.window_end AND login_throttle.attempts > 0
    THEN login_throttle.attempts - 1 ELSE login_throttle.attempts END,
  updated_at = excluded.updated_at`, nil, "", nil)
	if err != nil {
		return fmt.Errorf("throttle: refund attempt: %w", err)
	}
	return nil
}

// succeeded refunds the attempt on refunded (if its window still runs) and
// starts each of reset afresh (no attempts, its window ended now, so the
// next attempt opens a new one), in one statement.
func (s *Store) succeeded(ctx context.Context, refunded counter, reset ...counter) error {
	now := s.clock()
	var rows []counter
	for _, c := range reset {
		if c.key != "" {
			rows = append(rows, counter{key: c.key, windowEnd: now})
		}
	}
	if len(rows) == 0 {
		return s.refund(ctx, refunded)
	}
	set := `attempts = CASE WHEN login_throttle.throttle_key <> ? THEN 0
                  WHEN login_throttle.window_end = ? AND login_throttle.attempts > 0 THEN login_throttle.attempts - 1
                  ELSE login_throttle.attempts END,
  window_end = CASE WHEN login_throttle.throttle_key <> ? THEN excluded.window_end ELSE login_throttle.window_end END,
  updated_at = excluded.updated_at`
	var setArgs []any
	if refunded.key != "" {
		rows = append(rows, counter{key: refunded.key, windowEnd: refunded.windowEnd})
		setArgs = []any{refunded.key, refunded.windowEnd, refunded.key}
	} else {
		setArgs = []any{"", now, ""}
	}
	if err := s.upsert(ctx, now, rows, set, setArgs, "", nil); err != nil {
		return fmt.Errorf("throttle: reset: %w", err)
	}
	return nil
}

// Admit counts one attempt of the action named by parts (e.g. "portal",
// "sign-up", address) under r, and answers a *LockedError once the window
// holds more than r.Limit attempts. The attempt counts even when refused.
func (s *Store) Admit(ctx context.Context, r Rule, parts ...string) error {
	if r.Limit <= 0 {
		return nil
	}
	c, err := s.hit(ctx, keyOf(append([]string{"admit"}, parts...)...), r)
	if err != nil {
		return err
	}
	if c.refused() {
		return &LockedError{Until: c.windowEnd}
	}
	return nil
}

// Purge deletes the counters whose window ended before cutoff (housekeeping).
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Exec(`DELETE FROM login_throttle WHERE window_end < ?`, cutoff.UTC().Truncate(time.Microsecond))
	if res.Error != nil {
		return 0, fmt.Errorf("throttle: purge: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Limiter applies a Policy to the sign-ins of one surface.
type Limiter struct {
	store   *Store
	surface string
	policy  Policy
}

// Limiter returns the limiter of surface ("customer", "portal", "staff"):
// surfaces never share counters.
func (s *Store) Limiter(surface string, p Policy) *Limiter {
	return &Limiter{store: s, surface: surface, policy: p}
}

// Attempt is one sign-in attempt that Begin admitted: its password may be
// checked once, and the outcome reported with Succeeded, Failed or Cancel.
type Attempt struct {
	l        *Limiter
	counters []counter // address, account at address, account (those switched on)
}

// Begin counts one sign-in attempt on account (its normalised identifier,
// whether or not such an account exists) from client address addr (see
// ClientAddress; "" is one shared unknown address). It answers a
// *LockedError, before any password is checked, when a counter is at its
// limit; the counters that had admitted the attempt are refunded.
//
// The counters are counted together, in one statement (hitAll), and then
// taken in the package doc's order: a counter refuses only when the ones
// before it admitted the attempt; every admitted counter is refunded on a
// refusal, so what each counts is as if the later ones had not been asked.
func (l *Limiter) Begin(ctx context.Context, account, addr string) (*Attempt, error) {
	steps := []counter{
		{key: keyOf(l.surface, "address", addr), rule: l.policy.Address},
		{key: keyOf(l.surface, "account-address", account, addr), rule: l.policy.AccountAddress},
		{key: keyOf(l.surface, "account", account), rule: l.policy.Account},
	}
	for i := range steps {
		if steps[i].rule.Limit <= 0 {
			steps[i] = counter{} // switched off
		}
	}
	if err := l.store.hitAll(ctx, steps); err != nil {
		return nil, err
	}
	a := &Attempt{l: l, counters: steps}
	for i, c := range steps {
		if c.key == "" || !c.refused() {
			continue
		}
		// Refused here: the counters before it admitted the attempt, and
		// those after it must not count it, so every counter that admitted
		// it is refunded. A counter after it that refused too stays past
		// its limit; it was at its limit, which refuses the next attempt
		// just the same.
		var admitted []counter
		for j, o := range steps {
			if j != i && o.key != "" && !o.refused() {
				admitted = append(admitted, o)
			}
		}
		if err := l.store.refund(ctx, admitted...); err != nil {
			return nil, err
		}
		return nil, &LockedError{Until: c.windowEnd}
	}
	return a, nil
}

func (a *Attempt) refundAll(ctx context.Context) error {
	return a.l.store.refund(ctx, a.counters...)
}

// Succeeded reports the right password: the account and account-at-address
// counters start afresh, and the attempt is refunded on the address budget
// (one statement).
func (a *Attempt) Succeeded(ctx context.Context) error {
	return a.l.store.succeeded(ctx, a.counters[0], a.counters[1:]...)
}

// Failed reports a wrong password: the counts stand. It returns a
// *LockedError when this failure spent a budget (the next attempt will be
// refused), so the caller can say so now; nil otherwise.
func (a *Attempt) Failed() error {
	var until time.Time
	for _, c := range a.counters {
		if c.key != "" && c.attempts >= c.rule.Limit && c.windowEnd.After(until) {
			until = c.windowEnd
		}
	}
	if until.IsZero() {
		return nil
	}
	return &LockedError{Until: until}
}

// Cancel reports that the password could not be checked (busy, storage
// error): the attempt is refunded everywhere.
func (a *Attempt) Cancel(ctx context.Context) error { return a.refundAll(ctx) }

// ClientAddress returns the throttling address of the request's TCP peer
// (RemoteAddr, never a forwarding header): an IPv4 address as such, an IPv6
// address as its /64 prefix ("2001:db8:1:2::/64"). A peer that does not
// parse is returned as it came.
func ClientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // zone
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

type addressKey struct{}

// WithAddress returns ctx carrying the client address addr for the sign-in
// services (Address).
func WithAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addressKey{}, addr)
}

// WithClient returns ctx carrying r's client address (ClientAddress).
func WithClient(ctx context.Context, r *http.Request) context.Context {
	return WithAddress(ctx, ClientAddress(r))
}

// Address returns the client address WithAddress put in ctx, or "" (one
// shared unknown address: callers that forget it throttle more, never less).
func Address(ctx context.Context) string {
	a, _ := ctx.Value(addressKey{}).(string)
	return a
}
