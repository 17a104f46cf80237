package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"os"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/ids"
)

// SenderConfig configures a Sender; zero fields take the defaults named.
type SenderConfig struct {
	DB   *db.DB
	SMTP SMTP
	// From is the sender address, e.g. "Bankbridge <no-reply@bank.example>".
	From string
	// ID names the sender in claims and logs (default host-pid-random).
	ID     string
	Logger *slog.Logger
	// Now is the clock (default time.Now().UTC()).
	Now func() time.Time
	// PollInterval is how often due mail is looked for (default 1 s).
	PollInterval time.Duration
	// Timeout bounds connecting and each SMTP exchange (default 30 s).
	Timeout time.Duration
	// Lease is how long a claim lasts before another sender may retake the
	// mail (default 2 × Timeout + 30 s); it must exceed one send.
	Lease time.Duration
	// Batch is how many mails one pass sends over one connection (default 20).
	Batch int
	// MaxAttempts is how many attempts a mail gets before the sender gives up
	// and logs it (default 10).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the retry delays: BackoffBase × 2^(n-1)
	// after the n-th failure, at most BackoffMax (defaults 30 s and 1 h).
	BackoffBase, BackoffMax time.Duration
	// RootCAs verifies the server's certificate (nil: the system's roots).
	RootCAs *x509.CertPool
	// Dial opens the TCP connection (nil: a net.Dialer). Tests point any
	// host name at a local server with it; TLS is still negotiated for
	// SMTP.Host.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Sender delivers the email outbox over SMTP. Run any number per process and
// any number of processes against the same database: each mail is claimed by
// one sender at a time (a lease; FOR UPDATE SKIP LOCKED on PostgreSQL), and
// its outcome is recorded only while the claim holds.
type Sender struct {
	cfg    SenderConfig
	client *gomail.Client
	domain string // of From, for Message-IDs
	log    *slog.Logger
}

// NewSender checks cfg and makes a Sender.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.DB == nil {
		return nil, errors.New("mail: SenderConfig.DB is required")
	}
	if cfg.SMTP.Host == "" {
		return nil, errors.New("mail: SenderConfig.SMTP is required")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: sender address %q: %w", cfg.From, err)
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	if cfg.ID == "" {
		h, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d-%s", h, os.Getpid(), ids.Random(6))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2*cfg.Timeout + 30*time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 30 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = time.Hour
	}
	s := &Sender{cfg: cfg, domain: domain, log: cfg.Logger}
	tlsCfg := &tls.Config{ServerName: cfg.SMTP.Host, MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
	opts := []gomail.Option{gomail.WithPort(cfg.SMTP.Port), gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(tlsCfg), gomail.WithDialContextFunc(s.dialer(tlsCfg))}
	switch cfg.SMTP.TLS() {
	case TLSImplicit:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS)) // the dialer already speaks TLS
	case TLSStartTLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSStartTLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if cfg.SMTP.Username != "" {
		// PLAIN only over TLS (or to a loopback relay): go-mail's PlainAuth
		// refuses to send the password over a plain connection elsewhere.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(cfg.SMTP.Username), gomail.WithPassword(cfg.SMTP.Password))
	}
	if s.client, err = gomail.NewClient(cfg.SMTP.Host, opts...); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return s, nil
}

// ID is the sender's name.
func (s *Sender) ID() string { return s.cfg.ID }

// dialer connects to the server, with TLS from the first byte for smtps://.
func (s *Sender) dialer(tlsCfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		dial := s.cfg.Dial
		if dial == nil {
			d := &net.Dialer{Timeout: s.cfg.Timeout}
			dial = d.DialContext
		}
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if h, ok := ctx.Value(connKey{}).(*net.Conn); ok {
			*h = conn
		}
		if !s.cfg.SMTP.Implicit {
			return conn, nil
		}
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

// connKey carries a *net.Conn through the dial context, so that a session
// that fails after connecting (no STARTTLS, a bad certificate, refused
// credentials) is closed: go-mail returns such errors without closing.
type connKey struct{}

// dial opens an SMTP session; on failure the connection is closed.
func (s *Sender) dial(ctx context.Context) (*gosmtp.Client, error) {
	var raw net.Conn
	c, err := s.client.DialToSMTPClientWithContext(context.WithValue(ctx, connKey{}, &raw))
	if err != nil {
		if raw != nil {
			raw.Close()
		}
		return nil, err
	}
	return c, nil
}

// Run sends due mail until ctx is done, then returns nil. A claim in flight
// when ctx ends is released, to be retried by whoever claims next.
func (s *Sender) Run(ctx context.Context) error {
	s.log.Info("mail sender started", "sender", s.cfg.ID, "smtp", s.cfg.SMTP.String(), "tls", s.cfg.SMTP.TLS().String())
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		n, err := s.SendDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("mail: sending failed", "sender", s.cfg.ID, "err", err)
		}
		wait := s.cfg.PollInterval
		if n >= s.cfg.Batch {
			wait = 0 // possibly more due
		}
		timer.Reset(wait)
	}
}

// outboxRow is a claimed mail.
type outboxRow struct {
	ID        string
	Recipient string
	Template  string
	Subject   string
	Body      string
	Attempts  int
}

// SendDue makes one pass: it claims due mails one at a time (up to Batch),
// sends each over one SMTP connection and records the outcome. It returns
// how many mails it attempted.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	var conn *gosmtp.Client
	defer func() {
		if conn != nil {
			_ = s.client.CloseWithSMTPClient(conn)
		}
	}()
	n := 0
	for n < s.cfg.Batch && ctx.Err() == nil {
		token := s.cfg.ID + "/" + ids.Random(8)
		row, ok, err := s.claim(ctx, token)
		if err != nil || !ok {
			return n, err
		}
		n++
		msg, err := s.message(row)
		if err != nil { // the row itself is unsendable (bad recipient): no retry helps
			s.record(token, row, err, true)
			continue
		}
		if conn == nil {
			if conn, err = s.dial(ctx); err != nil {
				conn = nil
				if ctx.Err() != nil {
					s.release(token, row.ID)
					return n, nil
				}
				s.record(token, row, fmt.Errorf("connect to %s: %w", s.cfg.SMTP.Addr(), err), false)
				return n, nil // the server is unreachable: the rest waits for the next pass
			}
		}
		err = s.client.SendWithSMTPClient(conn, msg)
		if err != nil && ctx.Err() != nil {
			s.release(token, row.ID)
			return n, nil
		}
		if err != nil {
			// The connection's state is unknown after a failure: start afresh.
			_ = s.client.CloseWithSMTPClient(conn)
			conn = nil
		}
		s.record(token, row, err, permanent(err))
	}
	return n, nil
}

// permanent reports whether err is an SMTP 5xx answer to the message
// (MAIL, RCPT or DATA), which no retry will change.
func permanent(err error) bool {
	var se *gomail.SendError
	if err == nil || !errors.As(err, &se) {
		return false
	}
	return !se.IsTemp() && se.ErrorCode() >= 500 && se.ErrorCode() < 600
}

// message builds the MIME message of a row.
func (s *Sender) message(r *outboxRow) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return nil, err
	}
	if err := m.To(r.Recipient); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	m.Subject(r.Subject)
	m.SetDateWithValue(s.cfg.Now())
	m.SetMessageIDWithValue(r.ID + "@" + s.domain)
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetBodyString(gomail.TypeTextPlain, r.Body)
	return m, nil
}

// claim takes the oldest due, unleased mail: one statement, FOR UPDATE SKIP
// LOCKED on PostgreSQL (concurrent claimers skip each other's rows), a
// conditional UPDATE on SQLite (whose single writer serialises claimers).
func (s *Sender) claim(ctx context.Context, token string) (*outboxRow, bool, error) {
	now := s.cfg.Now()
	lock := ""
	if s.cfg.DB.Dialect == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE email_outbox SET claimed_by = ?, lease_until = ?
WHERE id IN (SELECT id FROM email_outbox
  WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
  ORDER BY next_attempt_at LIMIT 1` + lock + `)
RETURNING id, recipient, template, subject, body, attempts`
	var out []outboxRow
	if err := s.cfg.DB.WithContext(ctx).Raw(q, token, now.Add(s.cfg.Lease), now, now).Scan(&out).Error; err != nil {
		return nil, false, err
	}
	if len(out) == 0 {
		return nil, false, nil
	}
	return &out[0], true, nil
}

// record stores an attempt's outcome, fenced on the claim. A sent mail's
// body is redacted (its links carry no usable tokens any more); so is the
// body of a mail given up on.
func (s *Sender) record(token string, r *outboxRow, sendErr error, giveUp bool) {
	now := s.cfg.Now()
	n := r.Attempts + 1
	upd := map[string]any{"attempts": n, "claimed_by": "", "lease_until": nil}
	switch {
	case sendErr == nil:
		upd["sent_at"], upd["next_attempt_at"], upd["last_error"], upd["body"] = now, nil, "", Redact(r.Body)
	case giveUp || n >= s.cfg.MaxAttempts:
		upd["failed_at"], upd["next_attempt_at"], upd["last_error"], upd["body"] = now, nil, truncate(sendErr.Error(), 500), Redact(r.Body)
	default:
		upd["next_attempt_at"], upd["last_error"] = now.Add(s.backoff(n)), truncate(sendErr.Error(), 500)
	}
	res := s.cfg.DB.Model(&Message{}).Where("id = ? AND claimed_by = ?", r.ID, token).Updates(upd)
	switch {
	case res.Error != nil:
		s.log.Error("mail: recording an attempt failed", "sender", s.cfg.ID, "mail", r.ID, "err", res.Error)
	case res.RowsAffected == 0:
		s.log.Warn("mail: claim lost before the outcome was recorded", "sender", s.cfg.ID, "mail", r.ID)
	case sendErr == nil:
		s.log.Info("mail sent", "mail", r.ID, "template", r.Template, "attempts", n)
	case upd["failed_at"] != nil:
		s.log.Error("mail: gave up", "mail", r.ID, "template", r.Template, "attempts", n, "err", sendErr)
	default:
		s.log.Warn("mail: attempt failed, will retry", "mail", r.ID, "template", r.Template, "attempts", n,
			"next_attempt_at", upd["next_attempt_at"], "err", sendErr)
	}
}

// release gives a claim back without counting an attempt.
func (s *Sender) release(token, id string) {
	s.cfg.DB.Model(&Message{}).Where("id = ? AND claimed_by = ?", id, token).
		Updates(map[string]any{"claimed_by": "", "lease_until": nil})
}

// backoff is the delay after the n-th failed attempt.
func (s *Sender) backoff(n int) time.Duration {
	d := s.cfg.BackoffBase
	for i := 1; i < n && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.BackoffMax)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// urlRe finds the links in a mail body.
var urlRe = regexp.MustCompile(`https?://[^\s<>"]+`)

// Redacted replaces what a sent link carried.
const Redacted = "[sent]"

// Redact returns body with every link's query values and fragment replaced
// by "[sent]" (https://bank.example/portal/verify-email?token=[sent]): the
// platform puts one-time tokens there (verification, invitation), so a sent
// mail kept in the outbox gives nobody a usable link. The rest of the text
// stays readable.
func Redact(body string) string {
	return urlRe.ReplaceAllStringFunc(body, func(u string) string {
		trail := ""
		for len(u) > 0 && strings.ContainsRune(".,;:!?)'", rune(u[len(u)-1])) {
			trail = u[len(u)-1:] + trail
			u = u[:len(u)-1]
		}
		base, frag, hasFrag := strings.Cut(u, "#")
		path, query, hasQuery := strings.Cut(base, "?")
		out := path
		if hasQuery {
			parts := strings.Split(query, "&")
			for i, p := range parts {
				if k, _, ok := strings.Cut(p, "="); ok {
					parts[i] = k + "=" + Redacted
				} else if p != "" {
					parts[i] = Redacted
				}
			}
			out += "?" + strings.Join(parts, "&")
		}
		if hasFrag && frag != "" {
			out += "#" + Redacted
		}
		return out + trail
	})
}
