package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"gorm.io/gorm"
)

// Session kinds: who is signed in.
const (
	SessionCustomer = "customer"
	SessionPortal   = "portal"
	SessionStaff    = "staff"
)

// Session is one signed-in person.
type Session struct {
	TokenHash  string `gorm:"primaryKey"`
	Kind       string
	SubjectID  string // customer id, portal user id or staff id
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// StepUp is the strength of the session's last step-up (StepUpPassword
	// or StepUpStrong; "" none), valid until StepUpUntil (Sessions.StepUp).
	StepUp      string
	StepUpUntil *time.Time
}

// TableName implements gorm's tabler.
func (Session) TableName() string { return "web_sessions" }

// Sessions keeps sign-in sessions in the database (so any node can serve any
// request). The cookie carries 32 random bytes; the table only their SHA-256.
type Sessions struct {
	DB     *gorm.DB
	Secure bool             // set the cookie's Secure flag (HTTPS)
	Idle   time.Duration    // sign out after this long without a request (default 30 min)
	Max    time.Duration    // and after this long in any case (default 12 h)
	Now    func() time.Time // default time.Now
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Sessions) idle() time.Duration {
	if s.Idle > 0 {
		return s.Idle
	}
	return 30 * time.Minute
}

func (s *Sessions) max() time.Duration {
	if s.Max > 0 {
		return s.Max
	}
	return 12 * time.Hour
}

// CookieName is the session cookie for a kind.
func CookieName(kind string) string { return "bb_" + kind }

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Create signs subjectID in as kind and sets the cookie. Any session the
// request already carried for that kind is ended first (no session fixation).
func (s *Sessions) Create(ctx context.Context, w http.ResponseWriter, r *http.Request, kind, subjectID string) error {
	s.Destroy(ctx, w, r, kind)
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	if err := s.DB.WithContext(ctx).Create(&Session{TokenHash: hashToken(tok), Kind: kind, SubjectID: subjectID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.max())}).Error; err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName(kind), Value: tok, Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.max().Seconds())})
	return nil
}

// ErrNoSession means the request carries no live session of that kind.
var ErrNoSession = errors.New("web: not signed in")

// Get returns the request's live session of kind, refreshing its idle timer,
// or ErrNoSession.
func (s *Sessions) Get(ctx context.Context, r *http.Request, kind string) (*Session, error) {
	ck, err := r.Cookie(CookieName(kind))
	if err != nil || len(ck.Value) != 43 {
		return nil, ErrNoSession
	}
	var sess Session
	err = s.DB.WithContext(ctx).Where("token_hash = ? AND kind = ?", hashToken(ck.Value), kind).Take(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > s.idle() {
		s.DB.WithContext(ctx).Delete(&Session{}, "token_hash = ?", sess.TokenHash)
		return nil, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) > time.Minute { // don't write on every request
		s.DB.WithContext(ctx).Model(&Session{}).Where("token_hash = ?", sess.TokenHash).Update("last_seen_at", now)
	}
	return &sess, nil
}

// Destroy ends the request's session of kind and clears the cookie.
func (s *Sessions) Destroy(ctx context.Context, w http.ResponseWriter, r *http.Request, kind string) {
	if ck, err := r.Cookie(CookieName(kind)); err == nil && ck.Value != "" {
		s.DB.WithContext(ctx).Delete(&Session{}, "token_hash = ?", hashToken(ck.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName(kind), Value: "", Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// DestroyAll ends every session of one subject (e.g. a locked or removed user).
func (s *Sessions) DestroyAll(ctx context.Context, kind, subjectID string) error {
	return s.DB.WithContext(ctx).Delete(&Session{}, "kind = ? AND subject_id = ?", kind, subjectID).Error
}

// Step-up strengths: how a signed-in person last re-authenticated in a
// session (Sessions.StepUp). StepUpStrong includes StepUpPassword.
const (
	// StepUpPassword is the password entered again.
	StepUpPassword = "password"
	// StepUpStrong is the password and a current second factor.
	StepUpStrong = "strong"
)

// StepUpTTL is how long a step-up lasts.
const StepUpTTL = 5 * time.Minute

// StepUp records on sess (a session Get returned) that its subject just
// re-authenticated with strength, valid for StepUpTTL at the Sessions'
// clock. It is kept on the session's row: no other session, of the same
// person or another, holds it, and it ends with the session. ErrNoSession
// when the session is gone meanwhile.
func (s *Sessions) StepUp(ctx context.Context, sess *Session, strength string) error {
	until := s.now().Add(StepUpTTL)
	res := s.DB.WithContext(ctx).Model(&Session{}).
		Where("token_hash = ? AND kind = ? AND subject_id = ?", sess.TokenHash, sess.Kind, sess.SubjectID).
		Updates(map[string]any{"step_up": strength, "step_up_until": until})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrNoSession
	}
	sess.StepUp, sess.StepUpUntil = strength, &until
	return nil
}

// SteppedUp reports whether sess holds a step-up of at least strength that
// has not expired at the Sessions' clock.
func (s *Sessions) SteppedUp(sess *Session, strength string) bool {
	if sess == nil || sess.StepUpUntil == nil || !s.now().Before(*sess.StepUpUntil) {
		return false
	}
	switch strength {
	case StepUpPassword:
		return sess.StepUp == StepUpPassword || sess.StepUp == StepUpStrong
	case StepUpStrong:
		return sess.StepUp == StepUpStrong
	}
	return false
}

// Renew ends every session of subjectID of kind — on every browser, the
// request's own included — and signs the request's browser in afresh with a
// new token. A password change calls it: whoever held a session (a stolen
// cookie, a forgotten browser) must sign in with the new password, while the
// person who made the change stays signed in without the old, possibly
// leaked, token.
func (s *Sessions) Renew(ctx context.Context, w http.ResponseWriter, r *http.Request, kind, subjectID string) error {
	if err := s.DestroyAll(ctx, kind, subjectID); err != nil {
		return err
	}
	return s.Create(ctx, w, r, kind, subjectID)
}
