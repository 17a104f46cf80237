package sqldialect

// Claim is a table of single-use ids (DPoP proof ids in used_jtis, client
// assertion ids in oauth_client_assertions): each row is an id and the
// expiry until which it stays used. Its statements are the one replay write
// of the module: insert the id if it is absent, or take the row over if its
// expiry has passed; a row still in use is left alone and nothing is
// affected. Concurrent claims of one id: exactly one affects a row.
type Claim struct {
	// Table holds the ids; its columns are Key and expires_at.
	Table string
	// Key is the id column (the table's primary key).
	Key string
	// FreeAtExpiry: an id whose expiry equals the cutoff is free again
	// (expires_at <= cutoff); otherwise only once the cutoff is past it
	// (expires_at < cutoff).
	FreeAtExpiry bool
}

// onConflict takes the row over only when its expiry has passed the
// cutoff (the statement's third argument, of type typ when not empty).
func (c Claim) onConflict(typ string) string {
	cmp := " < ?"
	if c.FreeAtExpiry {
		cmp = " <= ?"
	}
	return " ON CONFLICT (" + c.Key + ") DO UPDATE SET expires_at = excluded.expires_at WHERE " + c.Table + ".expires_at" + cmp + typ
}

// Insert is the claim as one statement with ? placeholders (id, expiry,
// cutoff — the cutoff being now on the store's clock). It affects one row
// when the id was free and none when it is in use. Bind it with
// Dialect.Bind, or run it through gorm, which binds it itself.
func (c Claim) Insert() string {
	return "INSERT INTO " + c.Table + " (" + c.Key + ", expires_at) VALUES (?, ?)" + c.onConflict("")
}

// InsertIf is Insert run only when the WITH query named cte returned a row,
// for a data-modifying WITH (Dialect.WritableCTE): it takes the same three
// arguments, typed for PostgreSQL.
func (c Claim) InsertIf(cte string) string {
	return "INSERT INTO " + c.Table + " (" + c.Key + ", expires_at) SELECT ?::text, ?::timestamptz WHERE EXISTS (SELECT 1 FROM " + cte + ")" +
		c.onConflict("::timestamptz")
}

// Conflict is the claim's ON CONFLICT clause for PostgreSQL, its one
// argument (the cutoff) typed, for a caller that inserts many ids with a
// VALUES list of its own (db.Rows.Conflict): an id in use is left alone, so
// the INSERT's RETURNING holds only the ids claimed now.
func (c Claim) Conflict() string { return c.onConflict("::timestamptz")[1:] }
