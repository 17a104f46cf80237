package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// A page cursor names the posting (sequence number) the next page starts
// below, bound to the account and the query's filters, and is MACed with the
// core's cursor key: a cursor that was altered, made up, or replayed against
// another account or other filters fails with ErrBadCursor.
//
// Format: base64url("v1|account|from|to|filter|seq") "." base64url(HMAC-SHA256[:16]).

func queryBinding(accountID string, q TransactionQuery) string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return strconv.FormatInt(t.UnixNano(), 10)
	}
	return "v1|" + accountID + "|" + ts(q.From) + "|" + ts(q.To) + "|" + q.CreditDebit
}

func (r *Reference) cursorMAC(payload string) []byte {
	m := hmac.New(sha256.New, r.cursorKey)
	m.Write([]byte(payload))
	return m.Sum(nil)[:16]
}

func (r *Reference) encodeCursor(accountID string, q TransactionQuery, seq int64) string {
	payload := queryBinding(accountID, q) + "|" + strconv.FormatInt(seq, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(r.cursorMAC(payload))
}

// decodeCursor returns the sequence number below which the next page starts.
func (r *Reference) decodeCursor(accountID string, q TransactionQuery) (int64, error) {
	p, m, ok := strings.Cut(q.Cursor, ".")
	if !ok || len(q.Cursor) > 512 {
		return 0, ErrBadCursor
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, r.cursorMAC(string(payload))) {
		return 0, ErrBadCursor
	}
	seqText, ok := strings.CutPrefix(string(payload), queryBinding(accountID, q)+"|")
	if !ok {
		return 0, ErrBadCursor
	}
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil || seq <= 0 {
		return 0, ErrBadCursor
	}
	return seq, nil
}
