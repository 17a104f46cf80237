package sqldialect

import "testing"

func TestBind(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Dialect
		q    string
		want string
	}{
		{"ok/sqlite unchanged", SQLite, "SELECT ? , ?", "SELECT ? , ?"},
		{"ok/postgres numbered", Postgres, "INSERT INTO t (a, b) VALUES (?, ?::text) WHERE c < ?", "INSERT INTO t (a, b) VALUES ($1, $2::text) WHERE c < $3"},
		{"ok/postgres ten and more", Postgres, "??????????", "$1$2$3$4$5$6$7$8$9$10"},
		{"ok/postgres without placeholders", Postgres, "SELECT 1", "SELECT 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Bind(tc.q); got != tc.want {
				t.Fatalf("Bind = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClaim(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"ok/free at expiry", Claim{Table: "used_jtis", Key: "key", FreeAtExpiry: true}.Insert(),
			"INSERT INTO used_jtis (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE used_jtis.expires_at <= ?"},
		{"ok/free after expiry", Claim{Table: "a", Key: "jti"}.Insert(),
			"INSERT INTO a (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE a.expires_at < ?"},
		{"ok/if", Claim{Table: "a", Key: "jti"}.InsertIf("d"),
			"INSERT INTO a (jti, expires_at) SELECT ?::text, ?::timestamptz WHERE EXISTS (SELECT 1 FROM d) ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE a.expires_at < ?::timestamptz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got  %q\nwant %q", tc.got, tc.want)
			}
		})
	}
}
