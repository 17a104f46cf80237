package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// The token endpoint's writes (the hot path). Its pieces:
//
//   - internal/sqldialect: the one place that spells SQL per engine, and the
//     one replay write (Claim) for used_jtis and oauth_client_assertions;
//   - tokensql.go: the statements, bound to the store's engine once;
//   - stmtcache.go: those statements prepared once on the pool;
//   - internal/groupcommit: the group commit used where one statement cannot hold a
//     request's writes (SQLite);
//   - this file: what a request has to write (pendingWrites) and writing it.
//
// A token request records two replay ids — its DPoP proof's (jkt:jti) and
// its client assertion's (client_id|jti) — and, on success, its token. When
// the DPoP replay store is the SQL store on the server's own database
// (Store.useReplay), the token endpoint verifies everything first without
// writing and then records the ids atomically together:
//
//   - client_credentials: both ids and the access token row together, once
//     every check has passed;
//   - other grants: both ids together at the end of client authentication,
//     before any grant handler runs;
//   - a refused request: whatever was verified (the proof always, the
//     assertion once authenticated) before answering.
//
// A taken id writes nothing and stops the request's later writes, so the
// request is refused: a replayed proof first (nothing else is recorded),
// then a replayed assertion (the proof's id stays recorded). The ids stay in
// used_jtis and oauth_client_assertions until they expire, and no answer is
// sent before the commit that holds them.
//
// With a single node's journal as the replay store (SQLite; Store.useJournal
// and dpop.JournalReplayStore) both ids are recorded there as they are
// verified — the proof's first, then the assertion's, the same order and
// the same refusals — and only the token is pending, for the group commit.
type pendingWrites struct {
	// proof is nil when the proof's id was recorded as it was verified (a
	// journal, Store.useJournal).
	proof *dpop.Proof
	// fold: write the ids in the access token's transaction.
	fold bool
	// assertionKey/Exp are set once the client assertion passed every check
	// but the replay check.
	assertionKey string
	assertionExp time.Time
	// codeSignature, of an authorization_code request, is its code's: the
	// ids' statement reads the code's rows too where it can (idsAndCode).
	codeSignature string
	// done: the ids were written (or refused); nothing is pending.
	done bool
	// refused is the replay refusal writing the ids answered (nil: none):
	// the request's answer, whatever fosite made of it since (its PAR
	// handler turns every client authentication error into a generic
	// invalid_client).
	refused error
}

func pendingFrom(ctx context.Context) *pendingWrites {
	pw, _ := ctx.Value(ctxPending).(*pendingWrites)
	return pw
}

func errProofReplayed() error {
	return errDPoPProof(dpop.ReplayError().Description + ".")
}

func errAssertionReplayed() error {
	return fosite.ErrInvalidClient.WithHint("Claim 'jti' of the client_assertion was already used; every assertion must be used once only.")
}

// insertToken writes a token row and its consent links on ex.
func (s *Store) insertToken(ctx context.Context, ex dpop.Execer, row *tokenRow, consents []string) error {
	if _, err := ex.ExecContext(ctx, s.sql.token, row.args()...); err != nil {
		return err
	}
	for _, c := range consents {
		if _, err := ex.ExecContext(ctx, s.sql.tokenConsent, c, row.RequestID); err != nil {
			return err
		}
	}
	return nil
}

// writePending records pw's ids — and row with its consents when not nil —
// atomically with each other (see pendingWrites for the order). Replays come
// back as the request's refusal (RFC6749Error); other errors as they are.
//
// Where the dialect has a data-modifying WITH (PostgreSQL), ids with or
// without a token (and no consents) are one statement, one round trip (the
// ids of an authorization_code request read its code's rows in it); a
// proof id alone is the replay store's own statement; a token with consent
// links is one transaction. On SQLite every write goes through the batcher
// (group commit), as does a token whose ids are in a journal (pw.proof nil,
// no assertion key): the token alone.
func (s *Store) writePending(ctx context.Context, pw *pendingWrites, row *tokenRow, consents []string) error {
	err := s.writePendingRows(ctx, pw, row, consents)
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) {
		pw.refused = err
	}
	return err
}

// writePendingRows is writePending's work.
func (s *Store) writePendingRows(ctx context.Context, pw *pendingWrites, row *tokenRow, consents []string) error {
	pw.done = true
	if (s.sql.ids == "" || pw.proof == nil) && row == nil {
		// The ids alone (no token): two statements, no transaction. A
		// taken proof id stops before the assertion's; a taken assertion
		// id leaves the proof's recorded — the order pendingWrites states.
		return s.writeIDs(ctx, pw)
	}
	if s.sql.ids == "" || pw.proof == nil {
		j := &writeJob{pw: pw, row: row, consents: consents}
		if err := s.batch.Submit(ctx, j); j.err == nil {
			return err
		}
		return j.err
	}
	switch {
	case row != nil && pw.assertionKey != "" && len(consents) == 0:
		return s.writeOneStatement(ctx, s.sql.idsAndToken, pw, row)
	case row == nil && pw.assertionKey != "" && pw.codeSignature != "":
		return s.writeIDsReadCode(ctx, pw)
	case row == nil && pw.assertionKey != "":
		return s.writeOneStatement(ctx, s.sql.ids, pw, nil)
	case row == nil:
		if err := s.replay.UseIn(ctx, s.stmts.db, pw.proof.ReplayKey, pw.proof.ReplayExpires); errors.Is(err, dpop.ErrReplay) {
			return errProofReplayed()
		} else if err != nil {
			return fmt.Errorf("dpop replay store: %w", err)
		}
		return nil
	}
	j := &writeJob{pw: pw, row: row, consents: consents}
	if err := s.writeTx(ctx, []*writeJob{j}); err != nil {
		return err
	}
	return j.err
}

// writeIDs records pw's proof id, then (if it was free) its assertion id,
// each on its own (SQLite, where there is no data-modifying WITH).
func (s *Store) writeIDs(ctx context.Context, pw *pendingWrites) error {
	if pw.proof != nil {
		if err := s.replay.UseIn(ctx, s.stmts.db, pw.proof.ReplayKey, pw.proof.ReplayExpires); errors.Is(err, dpop.ErrReplay) {
			return errProofReplayed()
		} else if err != nil {
			return fmt.Errorf("dpop replay store: %w", err)
		}
	}
	if pw.assertionKey == "" {
		return nil
	}
	n, err := execAffected(ctx, stmtPool{c: s.stmts}, s.sql.assertion, pw.assertionKey, pw.assertionExp.UTC(), s.now().UTC())
	if err != nil {
		return err
	}
	if n == 0 {
		return errAssertionReplayed()
	}
	return nil
}

// writeTx writes jobs in one transaction and sets each job's refusal. The
// returned error (begin or commit failed) applies to the jobs without one.
// Per job: the proof's id; if it was free, the assertion's id; if that was
// free too, the token. A taken id writes nothing (sqldialect.Claim), so no
// job's refusal needs a rollback.
func (s *Store) writeTx(ctx context.Context, jobs []*writeJob) (err error) {
	sqlTx, err := s.stmts.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	tx := stmtTx{c: s.stmts, tx: sqlTx}
	for _, j := range jobs {
		pw := j.pw
		if pw.proof != nil { // else recorded as it was verified (a journal)
			if err = s.replay.UseIn(ctx, tx, pw.proof.ReplayKey, pw.proof.ReplayExpires); errors.Is(err, dpop.ErrReplay) {
				j.err = errProofReplayed()
				continue
			} else if err != nil {
				return fmt.Errorf("dpop replay store: %w", err)
			}
		}
		if pw.assertionKey != "" {
			n, aerr := execAffected(ctx, tx, s.sql.assertion, pw.assertionKey, pw.assertionExp.UTC(), s.now().UTC())
			if err = aerr; err != nil {
				return err
			}
			if n == 0 {
				j.err = errAssertionReplayed()
				continue
			}
		}
		if j.row != nil {
			if err = s.insertToken(ctx, tx, j.row, j.consents); err != nil {
				return err
			}
		}
	}
	return sqlTx.Commit()
}

// writeOneStatement runs tokenSQL.idsAndToken (row set) or tokenSQL.ids.
func (s *Store) writeOneStatement(ctx context.Context, q string, pw *pendingWrites, row *tokenRow) error {
	args := []any{pw.proof.ReplayKey, pw.proof.ReplayExpires.UTC(), s.replay.Cutoff(),
		pw.assertionKey, pw.assertionExp.UTC(), s.now().UTC()}
	if row != nil {
		args = append(args, row.args()...)
	}
	st, err := s.stmts.prepared(ctx, q)
	if err != nil {
		return err
	}
	var d, a, t int64
	if err := st.QueryRowContext(ctx, args...).Scan(&d, &a, &t); err != nil {
		return err
	}
	switch {
	case d == 0:
		return errProofReplayed()
	case a == 0:
		return errAssertionReplayed()
	case t == 0:
		return errors.New("oauth: token row not written")
	}
	return nil
}

// writeIDsReadCode runs tokenSQL.idsAndCode: the ids as tokenSQL.ids does,
// and the code's rows read in the same round trip are kept in the request's
// memo, where the exchange's reads (Store.get) find them. Rows it did not
// find are read again by the exchange, as without it (and refused there).
func (s *Store) writeIDsReadCode(ctx context.Context, pw *pendingWrites) error {
	st, err := s.stmts.prepared(ctx, s.sql.idsAndCode)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, pw.proof.ReplayKey, pw.proof.ReplayExpires.UTC(), s.replay.Cutoff(),
		pw.assertionKey, pw.assertionExp.UTC(), s.now().UTC(), pw.codeSignature)
	if err != nil {
		return err
	}
	defer rows.Close()
	var d, a, t int64
	var found []tokenRow
	for rows.Next() {
		var r nullTokenRow
		if err := rows.Scan(append([]any{&d, &a, &t}, r.targets()...)...); err != nil {
			return err
		}
		if r.Signature != nil {
			found = append(found, r.row())
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	switch {
	case d == 0:
		return errProofReplayed()
	case a == 0:
		return errAssertionReplayed()
	}
	for _, r := range found {
		reqmemo.Put(ctx, memoToken(r.Kind, r.Signature), r)
	}
	return nil
}

// nullTokenRow scans a tokenRow from codeColumns of an outer join (NULL
// when there is no row).
type nullTokenRow struct {
	Signature, Kind, RequestID, ClientID, Subject, JKT, Scopes, AuthorizationDetails *string
	Active                                                                           *bool
	RequestedAt, ExpiresAt, RotatedAt                                                *time.Time
	AccessSignature, Request                                                         *string
}

func (r *nullTokenRow) targets() []any {
	return []any{&r.Signature, &r.Kind, &r.RequestID, &r.ClientID, &r.Subject, &r.JKT, &r.Scopes, &r.AuthorizationDetails,
		&r.Active, &r.RequestedAt, &r.ExpiresAt, &r.RotatedAt, &r.AccessSignature, &r.Request}
}

// row is the scanned row (a NULL column as its zero value).
func (r *nullTokenRow) row() tokenRow {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	return tokenRow{Signature: str(r.Signature), Kind: str(r.Kind), RequestID: str(r.RequestID), ClientID: str(r.ClientID),
		Subject: str(r.Subject), JKT: str(r.JKT), Scopes: str(r.Scopes), AuthorizationDetails: str(r.AuthorizationDetails),
		Active: r.Active != nil && *r.Active, RequestedAt: tm(r.RequestedAt), ExpiresAt: tm(r.ExpiresAt), RotatedAt: r.RotatedAt,
		AccessSignature: str(r.AccessSignature), Request: str(r.Request)}
}

// flushPending writes what a token request verified and has not yet
// recorded; a no-op when nothing is pending.
func (s *Store) flushPending(ctx context.Context, pw *pendingWrites) error {
	if pw == nil || pw.done {
		return nil
	}
	return s.writePending(ctx, pw, nil, nil)
}

// refusalAfter is the answer to a token request refused with err: the ids it
// verified are recorded, and a replay among them takes precedence (as it did
// when they were recorded at once).
func (s *Server) refusalAfter(ctx context.Context, pw *pendingWrites, err error) error {
	if pw != nil && pw.refused != nil {
		return pw.refused
	}
	ferr := s.store.flushPending(ctx, pw)
	var rfc *fosite.RFC6749Error
	switch {
	case ferr == nil:
		return err
	case errors.As(ferr, &rfc):
		return ferr
	default:
		return fosite.ErrServerError.WithWrap(ferr).WithDebug(ferr.Error())
	}
}
