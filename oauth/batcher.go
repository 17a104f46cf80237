package oauth

// writeJob is one token request's writes in a group commit
// (internal/groupcommit; used on SQLite, where one writer holds the
// database at a time, so the write lock is taken only for the inserts and
// one WAL commit serves many tokens).
type writeJob struct {
	pw       *pendingWrites
	row      *tokenRow // nil: the ids only
	consents []string
	err      error // the request's refusal or failure, set by writeTx
}
