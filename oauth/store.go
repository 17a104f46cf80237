package oauth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/storage"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/groupcommit"
	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/oauth/dpop"
	"github.com/bankbridge/bankbridge/oauth/internal/sqldialect"
)

// Token kinds stored in oauth_tokens.kind.
const (
	kindCode    = "code"
	kindAccess  = "access"
	kindRefresh = "refresh"
	kindPKCE    = "pkce"
	kindPAR     = "par"
)

// Store is fosite's storage on gorm: every authorization code, PKCE, PAR,
// access and refresh token session is a row of oauth_tokens keyed by the
// token's HMAC signature (or, for request_uri values, their SHA-256), so no
// usable token is ever stored. It implements fosite's transactional storage:
// BeginTX puts the transaction in the context and every method uses it.
type Store struct {
	db      *gorm.DB
	clients ClientRegistry
	now     func() time.Time
	dialect sqldialect.Dialect
	// sql is the token hot path's SQL in dialect's spelling.
	sql tokenSQL
	// stmts prepares sql's statements once on the pool behind db (nil if
	// gorm has none: then the replay store is never folded in).
	stmts *stmtCache
	// replay, when set (useReplay), is the DPoP replay store on the same
	// database: token requests record their ids with their token (see
	// pendingWrites).
	replay *dpop.GormReplayStore
	// journal, when set (useJournal), is a single node's replay journal,
	// which holds the DPoP proof ids (as they are verified) and the client
	// assertion ids (SetClientAssertionJWT) instead of the database.
	journal *dpop.JournalReplayStore
	// batch group-commits token requests' writes where the dialect has no
	// data-modifying WITH (SQLite).
	batch groupcommit.Batcher[*writeJob]
	// bus carries revocations to every node's tokenCache (nil: none); see
	// UseCacheBus.
	bus        cachebus.Bus
	tokenCache *cachebus.Cache[*resourceRow]
}

var (
	_ fosite.ClientManager          = (*Store)(nil)
	_ fosite.PARStorage             = (*Store)(nil)
	_ oauth2.CoreStorage            = (*Store)(nil)
	_ oauth2.TokenRevocationStorage = (*Store)(nil)
	_ pkce.PKCERequestStorage       = (*Store)(nil)
	_ storage.Transactional         = (*Store)(nil)
)

// NewStore returns the gorm storage. now is the clock used for expiry checks.
func NewStore(db *gorm.DB, clients ClientRegistry, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	d := sqldialect.Of(db)
	st := &Store{db: db, clients: clients, now: now, dialect: d, sql: newTokenSQL(d, nil)}
	if sqlDB, err := db.DB(); err == nil {
		st.stmts = &stmtCache{db: sqlDB}
	}
	st.batch.Write = st.writeTx
	return st
}

// useReplay makes token requests record their DPoP proof ids in r, within
// their own writes, when r writes to the store's database (r.Shares) and the
// store has a pool; it reports whether it did.
func (s *Store) useReplay(r *dpop.GormReplayStore) bool {
	if r == nil || s.stmts == nil || !r.Shares(s.db) {
		return false
	}
	claim := r.Claim()
	s.replay = r
	s.sql = newTokenSQL(s.dialect, &claim)
	return true
}

// useJournal makes the store record client assertion ids in j, the journal
// that records the DPoP proof ids too (Deps.DPoPReplay), instead of the
// oauth_client_assertions table.
func (s *Store) useJournal(j *dpop.JournalReplayStore) { s.journal = j }

// defersIDs reports whether token requests (and PAR) go through
// pendingWrites: with the database's replay store (useReplay) their ids
// are written with their token; with a journal (useJournal) the ids are in
// the journal already and only the token is left, for the group commit.
func (s *Store) defersIDs() bool { return s.replay != nil || s.journal != nil }

// assertionKey is the journal's key of a client assertion id (apart from
// the proofs' "jkt:jti" keys).
func assertionKey(jti string) string { return "client_assertion\x00" + jti }

type tokenRow struct {
	Signature            string `gorm:"primaryKey"`
	Kind                 string `gorm:"primaryKey"`
	RequestID            string
	ClientID             string
	Subject              string
	JKT                  string `gorm:"column:jkt"`
	Scopes               string
	AuthorizationDetails string
	Active               bool
	RequestedAt          time.Time
	ExpiresAt            time.Time
	RotatedAt            *time.Time
	AccessSignature      string
	Request              string
}

func (tokenRow) TableName() string { return "oauth_tokens" }

// storedRequest is the serialised form of a fosite request.
type storedRequest struct {
	ID                   string          `json:"id"`
	RequestedAt          time.Time       `json:"requested_at"`
	ClientID             string          `json:"client_id"`
	RequestedScope       []string        `json:"requested_scope,omitempty"`
	GrantedScope         []string        `json:"granted_scope,omitempty"`
	RequestedAudience    []string        `json:"requested_audience,omitempty"`
	GrantedAudience      []string        `json:"granted_audience,omitempty"`
	Form                 url.Values      `json:"form,omitempty"`
	Session              json.RawMessage `json:"session,omitempty"`
	Authorize            bool            `json:"authorize,omitempty"`
	ResponseTypes        []string        `json:"response_types,omitempty"`
	RedirectURI          string          `json:"redirect_uri,omitempty"`
	State                string          `json:"state,omitempty"`
	HandledResponseTypes []string        `json:"handled_response_types,omitempty"`
	ResponseMode         string          `json:"response_mode,omitempty"`
	DefaultResponseMode  string          `json:"default_response_mode,omitempty"`
}

// formSecrets are never stored (client assertions and PKCE verifiers).
var formSecrets = []string{"client_assertion", "code_verifier", "client_secret", "refresh_token", "code", "password"}

func encodeRequest(r fosite.Requester) (string, error) {
	sr := storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt().UTC(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
	}
	if c := r.GetClient(); c != nil {
		sr.ClientID = c.GetID()
	}
	if f := r.GetRequestForm(); f != nil {
		sr.Form = url.Values{}
		for k, v := range f {
			sr.Form[k] = append([]string(nil), v...)
		}
		for _, k := range formSecrets {
			sr.Form.Del(k)
		}
	}
	if s := r.GetSession(); s != nil {
		b, err := json.Marshal(s)
		if err != nil {
			return "", err
		}
		sr.Session = b
	}
	if ar, ok := r.(fosite.AuthorizeRequester); ok {
		sr.Authorize = true
		sr.ResponseTypes = ar.GetResponseTypes()
		if u := ar.GetRedirectURI(); u != nil {
			sr.RedirectURI = u.String()
		}
		sr.State = ar.GetState()
		sr.ResponseMode = string(ar.GetResponseMode())
		sr.DefaultResponseMode = string(ar.GetDefaultResponseMode())
		if a, ok := ar.(*fosite.AuthorizeRequest); ok {
			sr.HandledResponseTypes = a.HandledResponseTypes
		}
	}
	b, err := json.Marshal(sr)
	return string(b), err
}

// decodeRequest rebuilds a request. The session is decoded into sess when it
// is a *Session, else into a fresh one.
func (s *Store) decodeRequest(ctx context.Context, raw string, sess fosite.Session) (fosite.Requester, error) {
	var sr storedRequest
	if err := json.Unmarshal([]byte(raw), &sr); err != nil {
		return nil, fmt.Errorf("oauth: decode stored request: %w", err)
	}
	c, err := s.client(ctx, sr.ClientID)
	if err != nil {
		return nil, err
	}
	target, ok := sess.(*Session)
	if !ok || target == nil {
		target = &Session{}
	}
	if len(sr.Session) > 0 {
		*target = Session{}
		if err := json.Unmarshal(sr.Session, target); err != nil {
			return nil, fmt.Errorf("oauth: decode stored session: %w", err)
		}
	}
	req := fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            &fositeClient{c: c},
		RequestedScope:    sr.RequestedScope,
		GrantedScope:      sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience,
		GrantedAudience:   sr.GrantedAudience,
		Form:              sr.Form,
		Session:           target,
	}
	if req.Form == nil {
		req.Form = url.Values{}
	}
	if !sr.Authorize {
		return &req, nil
	}
	ar := &fosite.AuthorizeRequest{
		ResponseTypes:        sr.ResponseTypes,
		State:                sr.State,
		HandledResponseTypes: sr.HandledResponseTypes,
		ResponseMode:         fosite.ResponseModeType(sr.ResponseMode),
		DefaultResponseMode:  fosite.ResponseModeType(sr.DefaultResponseMode),
		Request:              req,
	}
	if sr.RedirectURI != "" {
		u, err := url.Parse(sr.RedirectURI)
		if err != nil {
			return nil, err
		}
		ar.RedirectURI = u
	}
	return ar, nil
}

// client resolves a client, memoised in ctx for the request.
func (s *Store) client(ctx context.Context, id string) (*Client, error) {
	memo, _ := ctx.Value(ctxClient).(*clientMemo)
	if memo != nil && memo.c != nil && memo.c.ID == id {
		return memo.c, nil
	}
	c, err := s.clients.Client(ctx, id)
	if errors.Is(err, ErrClientNotFound) {
		return nil, fmt.Errorf("%w: %w", fosite.ErrNotFound, err)
	}
	if err == nil && memo != nil {
		memo.c = c
	}
	return c, err
}

// clientMemo holds the client looked up once per request (fosite passes the
// same context to every handler, so the holder is placed before the call).
type clientMemo struct{ c *Client }

// txHandle is the transaction BeginTX opens, carried in the context. It is
// begun by its first statement (begun), so a transaction whose only writes
// are the ones deferred to Commit runs no BEGIN and no COMMIT when those fit
// one statement: on PostgreSQL the code exchange's invalidation of the code,
// its tokens and their consent links (tokenbuffer.go).
type txHandle struct {
	db *gorm.DB // the plain handle, with the request's context
	tx *gorm.DB // the transaction once begun
}

// begun returns the transaction, beginning it on first use (a failed BEGIN
// is the handle's Error, returned by every statement run on it).
func (h *txHandle) begun() *gorm.DB {
	if h.tx == nil {
		h.tx = h.db.Begin()
	}
	return h.tx
}

// txHandleOf returns the transaction handle in ctx, or nil.
func txHandleOf(ctx context.Context) *txHandle {
	h, _ := ctx.Value(ctxTx).(*txHandle)
	return h
}

// tx returns the transaction in ctx (begun now if it was not yet) or the
// plain handle.
func (s *Store) tx(ctx context.Context) *gorm.DB {
	if h := txHandleOf(ctx); h != nil {
		return h.begun()
	}
	return s.db.WithContext(ctx)
}

// BeginTX implements storage.Transactional. The transaction begins with its
// first statement (txHandle).
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if txHandleOf(ctx) != nil {
		return ctx, errors.New("oauth: transaction already open")
	}
	ctx = context.WithValue(ctx, ctxInvalidationsKey{}, &pendingInvalidations{})
	// The tokens the transaction creates are written together at Commit.
	return deferTokens(context.WithValue(ctx, ctxTx, &txHandle{db: s.db.WithContext(ctx)})), nil
}

// Commit implements storage.Transactional: the tokens created in the
// transaction are written (tokenbuffer.go), then it commits, and the tokens
// it revoked are invalidated on every node before it returns.
func (s *Store) Commit(ctx context.Context) error {
	h := txHandleOf(ctx)
	if h == nil {
		return errors.New("oauth: no transaction to commit")
	}
	if err := s.flushTokens(ctx); err != nil {
		if h.tx != nil {
			_ = h.tx.Rollback()
		}
		return err
	}
	if h.tx != nil {
		if err := h.tx.Commit().Error; err != nil {
			return err
		}
	}
	return s.committed(ctx)
}

// Rollback implements storage.Transactional.
func (s *Store) Rollback(ctx context.Context) error {
	h := txHandleOf(ctx)
	if h == nil {
		return errors.New("oauth: no transaction to roll back")
	}
	if h.tx == nil {
		return nil // nothing ran: nothing to undo
	}
	return h.tx.Rollback().Error
}

// GetClient implements fosite.ClientManager.
func (s *Store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	return &fositeClient{c: c}, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager: it fails with
// fosite.ErrJTIKnown when the jti was seen and has not expired.
func (s *Store) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	if s.journal != nil {
		if s.journal.Holds(assertionKey(jti)) {
			return fosite.ErrJTIKnown
		}
		return nil
	}
	var n int64
	if err := s.tx(ctx).Raw(`SELECT COUNT(*) FROM oauth_client_assertions WHERE jti = ? AND expires_at >= ?`,
		jti, s.now().UTC()).Scan(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT implements fosite.ClientManager: it records jti until
// exp. A jti recorded concurrently by another request fails with
// fosite.ErrJTIKnown (the primary key makes the check-and-set atomic).
//
// With a journal (useJournal) the id is recorded there, at once and
// outside any transaction: an assertion is spent even when the request it
// authenticated is refused, as with the table.
func (s *Store) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	if s.journal != nil {
		if err := s.journal.Use(ctx, assertionKey(jti), exp); errors.Is(err, dpop.ErrReplay) {
			return fosite.ErrJTIKnown
		} else if err != nil {
			return err
		}
		return nil
	}
	// One statement: insert, or take over an expired row; a live row is left
	// alone and nothing is affected.
	res := s.tx(ctx).Exec(clientAssertions.Insert(), jti, exp.UTC(), s.now().UTC())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fosite.ErrJTIKnown
	}
	return nil
}

func (s *Store) create(ctx context.Context, kind, signature string, r fosite.Requester, expires time.Time, accessSig string) error {
	raw, err := encodeRequest(r)
	if err != nil {
		return err
	}
	row := tokenRow{
		Signature:       signature,
		Kind:            kind,
		RequestID:       r.GetID(),
		Active:          true,
		RequestedAt:     r.GetRequestedAt().UTC(),
		ExpiresAt:       expires.UTC(),
		AccessSignature: accessSig,
		Request:         raw,
		Scopes:          strings.Join(r.GetGrantedScopes(), " "),
	}
	if row.RequestedAt.IsZero() {
		row.RequestedAt = s.now().UTC()
	}
	if c := r.GetClient(); c != nil {
		row.ClientID = c.GetID()
	}
	var consents []string
	if sess, ok := r.GetSession().(*Session); ok && sess != nil {
		// Tokens issued at the token endpoint are bound to the key of the
		// request's verified DPoP proof (fosite reloads the code's session
		// between its handlers, so the binding is applied here).
		if p := proofFrom(ctx); p != nil && (kind == kindAccess || kind == kindRefresh) {
			sess.JKT = p.JKT
		}
		row.Subject = sess.Subject
		row.JKT = sess.JKT
		if len(sess.AuthorizationDetails) > 0 {
			b, err := json.Marshal(sess.AuthorizationDetails)
			if err != nil {
				return err
			}
			row.AuthorizationDetails = string(b)
		}
		consents = sess.consentIDs()
	}
	if kind != kindAccess && kind != kindRefresh {
		consents = nil
	}
	inTx := txHandleOf(ctx) != nil
	if pw := pendingFrom(ctx); pw != nil && pw.fold && !pw.done && kind == kindAccess && !inTx {
		// The token endpoint's last step: ids and token in one transaction.
		return s.writePending(ctx, pw, &row, consents)
	}
	if d := deferredFrom(ctx); d != nil {
		d.rows = append(d.rows, row)
		for _, c := range consents {
			d.links = append(d.links, tokenLink{consentID: c, requestID: row.RequestID})
		}
		return nil
	}
	g := s.tx(ctx)
	if err := g.Exec(insertTokenSQL, row.args()...).Error; err != nil {
		return err
	}
	for _, c := range consents {
		if err := g.Exec(insertTokenConsentSQL, c, row.RequestID).Error; err != nil {
			return err
		}
	}
	return nil
}

// get returns the row stored under (kind, signature). Within a request with
// a memo (the token endpoint's) a row is read once, and reading an
// authorization code also reads its PKCE row (same signature): fosite asks
// for the code twice and for the PKCE request once per exchange. Every
// write of a memoised row forgets it (InvalidateAuthorizeCodeSession).
// Errors: fosite.ErrNotFound, or the database's.
func (s *Store) get(ctx context.Context, kind, signature string) (*tokenRow, error) {
	row, err := reqmemo.Load(ctx, memoToken(kind, signature), func() (tokenRow, error) {
		kinds := []string{kind}
		if kind == kindCode {
			kinds = append(kinds, kindPKCE)
		}
		var rows []tokenRow
		if err := s.tx(ctx).Where("signature = ? AND kind IN ?", signature, kinds).Find(&rows).Error; err != nil {
			return tokenRow{}, err
		}
		var found *tokenRow
		for i := range rows {
			if rows[i].Kind == kind {
				found = &rows[i]
			} else {
				reqmemo.Put(ctx, memoToken(rows[i].Kind, signature), rows[i])
			}
		}
		if found == nil {
			return tokenRow{}, fosite.ErrNotFound
		}
		return *found, nil
	})
	if err != nil {
		return nil, err
	}
	return &row, nil
}

// memoToken names a token row in a request's memo.
func memoToken(kind, signature string) string { return "oauth.token:" + kind + ":" + signature }

// resourceRow is the slice of an access token row a resource request needs.
type resourceRow struct {
	RequestID            string
	ClientID             string
	Subject              string
	JKT                  string `gorm:"column:jkt"`
	Scopes               string
	AuthorizationDetails string
	Active               bool
	ExpiresAt            time.Time
}

// resourceTokenSQL selects a resourceRow by signature and kind.
const resourceTokenSQL = `SELECT request_id, client_id, subject, jkt, scopes, authorization_details, active, expires_at
	FROM oauth_tokens WHERE signature = ? AND kind = ?`

// accessTokenForResource returns the access token row stored under
// signature, active or not, expired or not (the resource server tells those
// apart). Errors: fosite.ErrNotFound when there is none, or the database's.
func (s *Store) accessTokenForResource(ctx context.Context, signature string) (*resourceRow, error) {
	var row resourceRow
	if s.stmts == nil {
		res := s.db.WithContext(ctx).Raw(resourceTokenSQL, signature, kindAccess).Scan(&row)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 0 {
			return nil, fosite.ErrNotFound
		}
		return &row, nil
	}
	st, err := s.stmts.prepared(ctx, s.sql.resourceToken)
	if err != nil {
		return nil, err
	}
	err = st.QueryRowContext(ctx, signature, kindAccess).Scan(&row.RequestID, &row.ClientID, &row.Subject, &row.JKT,
		&row.Scopes, &row.AuthorizationDetails, &row.Active, &row.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &row, nil
}

func (s *Store) delete(ctx context.Context, kind, signature string) error {
	return s.tx(ctx).Exec(`DELETE FROM oauth_tokens WHERE signature = ? AND kind = ?`, signature, kind).Error
}

func expiry(r fosite.Requester, t fosite.TokenType, fallback time.Time) time.Time {
	if r.GetSession() != nil {
		if e := r.GetSession().GetExpiresAt(t); !e.IsZero() {
			return e
		}
	}
	return fallback
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, kindCode, code, r, expiry(r, fosite.AuthorizeCode, s.now().Add(time.Minute)), "")
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage; for a used
// code it returns the request with fosite.ErrInvalidatedAuthorizeCode so fosite
// revokes what the first use issued.
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	return s.getSession(ctx, kindCode, code, sess, fosite.ErrInvalidatedAuthorizeCode)
}

// getSession loads the request stored under (kind, signature) into sess; an
// inactive row comes back with the request and errInactive, as fosite
// expects (it revokes by the request's id).
func (s *Store) getSession(ctx context.Context, kind, signature string, sess fosite.Session, errInactive error) (fosite.Requester, error) {
	row, err := s.get(ctx, kind, signature)
	if err != nil {
		return nil, err
	}
	req, err := s.decodeRequest(ctx, row.Request, sess)
	if err != nil {
		return nil, err
	}
	if !row.Active {
		return req, errInactive
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
// Only one of two concurrent redemptions can invalidate an active code; the
// other gets fosite.ErrInvalidatedAuthorizeCode and its transaction rolls back.
// On PostgreSQL, in a transaction that has run nothing yet, the invalidation
// is deferred to Commit and written in one statement with the tokens, which
// are written only if it invalidated the code (tokenbuffer.go).
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	reqmemo.Forget(ctx, memoToken(kindCode, code))
	if h, d := txHandleOf(ctx), deferredFrom(ctx); h != nil && h.tx == nil && d != nil && d.invalidateCode == "" && s.dialect.WritableCTE() {
		d.invalidateCode = code
		return nil
	}
	res := s.tx(ctx).Exec(`UPDATE oauth_tokens SET active = FALSE WHERE signature = ? AND kind = ? AND active = TRUE`, code, kindCode)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return nil
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, kindPKCE, signature, r, expiry(r, fosite.AuthorizeCode, s.now().Add(time.Minute)), "")
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	row, err := s.get(ctx, kindPKCE, signature)
	if err != nil {
		return nil, err
	}
	return s.decodeRequest(ctx, row.Request, sess)
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage. It keeps the
// row: fosite deletes it while checking the verifier, before the code is
// invalidated in the token transaction, so deleting it would refuse the
// loser of two concurrent redemptions with "PKCE session not found" instead
// of letting it reach the code's invalidation, where a reused code revokes
// what the other redemption was issued (see Server.revokeRaceWinner). The
// code itself is what is single-use; the PKCE row expires with it (60 s)
// and housekeeping deletes it.
func (s *Store) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return nil
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, kindAccess, signature, r, expiry(r, fosite.AccessToken, s.now().Add(5*time.Minute)), "")
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	return s.getSession(ctx, kindAccess, signature, sess, fosite.ErrInactiveToken)
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	if err := s.delete(ctx, kindAccess, signature); err != nil {
		return err
	}
	return s.revoked(ctx, signature)
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, r fosite.Requester) error {
	return s.create(ctx, kindRefresh, signature, r, expiry(r, fosite.RefreshToken, s.now().Add(30*24*time.Hour)), accessSignature)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage; an inactive
// (revoked or rotated) token comes back with fosite.ErrInactiveToken.
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	return s.getSession(ctx, kindRefresh, signature, sess, fosite.ErrInactiveToken)
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.delete(ctx, kindRefresh, signature)
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the old refresh
// token becomes inactive (remembering when, for the grace window) and the
// grant's other refresh tokens and access tokens are revoked.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	now := s.now().UTC()
	g := s.tx(ctx)
	if err := g.Exec(`UPDATE oauth_tokens SET active = FALSE, rotated_at = ? WHERE signature = ? AND kind = ? AND active = TRUE`,
		now, signature, kindRefresh).Error; err != nil {
		return err
	}
	if err := g.Exec(`UPDATE oauth_tokens SET active = FALSE WHERE request_id = ? AND kind = ? AND active = TRUE`, requestID, kindAccess).Error; err != nil {
		return err
	}
	return s.revoked(ctx, reqKey(requestID))
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage.
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.tx(ctx).Exec(`UPDATE oauth_tokens SET active = FALSE WHERE request_id = ? AND kind = ?`, requestID, kindRefresh).Error
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	if err := s.tx(ctx).Exec(`UPDATE oauth_tokens SET active = FALSE WHERE request_id = ? AND kind = ?`, requestID, kindAccess).Error; err != nil {
		return err
	}
	return s.revoked(ctx, reqKey(requestID))
}

// RevokeRefreshTokenMaybeGracePeriod is fosite's optional grace-period variant.
func (s *Store) RevokeRefreshTokenMaybeGracePeriod(ctx context.Context, requestID, signature string) error {
	return s.RevokeRefreshToken(ctx, requestID)
}

// RevokeGrant makes every access and refresh token of a grant (fosite request
// id) inactive.
func (s *Store) RevokeGrant(ctx context.Context, requestID string) error {
	if err := s.tx(ctx).Exec(`UPDATE oauth_tokens SET active = FALSE WHERE request_id = ? AND kind IN (?, ?)`,
		requestID, kindAccess, kindRefresh).Error; err != nil {
		return err
	}
	return s.revoked(ctx, reqKey(requestID))
}

// RevokeConsent makes every access and refresh token granted for consentID
// inactive.
func (s *Store) RevokeConsent(ctx context.Context, consentID string) error {
	var grants []string
	if err := s.tx(ctx).Raw(`UPDATE oauth_tokens SET active = FALSE WHERE kind IN (?, ?) AND active = TRUE AND request_id IN
		(SELECT request_id FROM oauth_token_consents WHERE consent_id = ?) RETURNING request_id`, kindAccess, kindRefresh, consentID).
		Scan(&grants).Error; err != nil {
		return err
	}
	keys := make([]string, 0, len(grants))
	seen := map[string]bool{}
	for _, g := range grants {
		if !seen[g] {
			seen[g] = true
			keys = append(keys, reqKey(g))
		}
	}
	return s.revoked(ctx, keys...)
}

// RevokeClient makes every token issued to clientID inactive.
func (s *Store) RevokeClient(ctx context.Context, clientID string) error {
	if err := s.tx(ctx).Exec(`UPDATE oauth_tokens SET active = FALSE WHERE client_id = ? AND kind IN (?, ?, ?) AND active = TRUE`,
		clientID, kindAccess, kindRefresh, kindCode).Error; err != nil {
		return err
	}
	return s.revoked(ctx, clientKey(clientID))
}

func parKey(requestURI string) string {
	h := sha256.Sum256([]byte(requestURI))
	return hex.EncodeToString(h[:])
}

// CreatePARSession implements fosite.PARStorage (keyed by the SHA-256 of the
// request_uri).
func (s *Store) CreatePARSession(ctx context.Context, requestURI string, r fosite.AuthorizeRequester) error {
	return s.create(ctx, kindPAR, parKey(requestURI), r, expiry(r, fosite.PushedAuthorizeRequestContext, s.now().Add(time.Minute)), "")
}

// errPARExpired marks an expired request_uri.
var errPARExpired = errors.New("the request_uri has expired")

// parConsumeSQL deletes a pushed request and returns it in one statement
// (PostgreSQL and SQLite ≥ 3.35 both have DELETE … RETURNING): of concurrent
// /authorize calls presenting one request_uri, on any node, only the one
// whose DELETE removed the row gets it back.
const parConsumeSQL = `DELETE FROM oauth_tokens WHERE signature = ? AND kind = ? RETURNING request, expires_at`

// GetPARSession implements fosite.PARStorage. It consumes the request_uri
// (RFC 9126 §4: single use): the row is deleted and returned atomically, so
// a second or concurrent use finds nothing (fosite.ErrNotFound, answered as
// invalid_request_uri). fosite only calls it from the authorization
// endpoint, right before DeletePARSession. An expired request_uri is
// refused (and is gone too).
func (s *Store) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	var rows []struct {
		Request   string
		ExpiresAt time.Time
	}
	if err := s.tx(ctx).Raw(parConsumeSQL, parKey(requestURI), kindPAR).Scan(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fosite.ErrNotFound
	}
	if !rows[0].ExpiresAt.After(s.now()) {
		return nil, errPARExpired
	}
	req, err := s.decodeRequest(ctx, rows[0].Request, nil)
	if err != nil {
		return nil, err
	}
	ar, ok := req.(fosite.AuthorizeRequester)
	if !ok {
		return nil, errors.New("oauth: stored PAR is not an authorization request")
	}
	return ar, nil
}

// DeletePARSession implements fosite.PARStorage. It does nothing: fosite
// calls it only right after GetPARSession, which already deleted the row
// atomically (a request_uri that GetPARSession did not return is expired,
// and deleted too, or unknown).
func (s *Store) DeletePARSession(context.Context, string) error { return nil }

// DeleteExpired removes rows that expired before cutoff: tokens, used
// assertion ids and orphaned consent links. Run it
// now and then (housekeeping), e.g. with cutoff = now. Customer login
// attempts are not here: internal/throttle counts them (login_throttle) and
// purges its own rows.
func (s *Store) DeleteExpired(ctx context.Context, cutoff time.Time) error {
	g := s.tx(ctx)
	for _, q := range []string{
		`DELETE FROM oauth_tokens WHERE expires_at < ?`,
		`DELETE FROM oauth_client_assertions WHERE expires_at < ?`,
	} {
		if err := g.Exec(q, cutoff.UTC()).Error; err != nil {
			return err
		}
	}
	return g.Exec(`DELETE FROM oauth_token_consents WHERE request_id NOT IN (SELECT request_id FROM oauth_tokens)`).Error
}
