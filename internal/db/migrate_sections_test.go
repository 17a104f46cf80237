package db

import (
	"reflect"
	"strings"
	"testing"
)

func TestMigrationEngineSections(t *testing.T) {
	m := Migration{Version: 9999, Name: "sections", SQL: `-- shared
CREATE TABLE t (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL);
-- +engine postgres
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- a comment inside the body stays
    RAISE EXCEPTION 'no';
END;
$$;
CREATE TRIGGER t_guard BEFORE DELETE ON t FOR EACH ROW EXECUTE FUNCTION f();
-- +engine sqlite
CREATE TRIGGER t_guard BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END;
-- +engine all
CREATE INDEX t_at ON t (at);
`}
	for _, tc := range []struct {
		name string
		d    Dialect
		want []string
	}{
		{"ok/postgres", Postgres, []string{
			"CREATE TABLE t (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL);",
			"CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    -- a comment inside the body stays\n    RAISE EXCEPTION 'no';\nEND;\n$$;",
			"CREATE TRIGGER t_guard BEFORE DELETE ON t FOR EACH ROW EXECUTE FUNCTION f();",
			"CREATE INDEX t_at ON t (at);",
		}},
		{"ok/sqlite", SQLite, []string{
			"CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, at DATETIME NOT NULL);",
			"CREATE TRIGGER t_guard BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END;",
			"CREATE INDEX t_at ON t (at);",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitStatements(m.SQLFor(tc.d)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("statements\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestMigrationEngineMarkers(t *testing.T) {
	for _, tc := range []struct {
		name, sql, err string
	}{
		{"ok/known", "-- +engine postgres\nSELECT 1;\n-- +engine sqlite\nSELECT 2;\n-- +engine all\n", ""},
		{"ok/plain-comment", "-- engine postgres is not a marker\nSELECT 1;\n", ""},
		{"fail/unknown", "SELECT 1;\n-- +engine mysql\nSELECT 2;\n", `line 2: unknown engine "mysql" in "-- +engine mysql" (use postgres, sqlite or all)`},
		{"fail/misspelt", "-- +engine postgresql\n", `line 1: unknown engine "postgresql" in "-- +engine postgresql" (use postgres, sqlite or all)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSections(tc.sql)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.err {
				t.Fatalf("err %v, want %s", err, tc.err)
			}
		})
	}
}

// TestEmbeddedMigrationsSplit: every embedded migration splits into
// statements on both engines, each ending in a semicolon, none of them an
// engine marker.
func TestEmbeddedMigrationsSplit(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, d := range []Dialect{SQLite, Postgres} {
			for _, s := range splitStatements(m.SQLFor(d)) {
				if !strings.HasSuffix(s, ";") || strings.Contains(s, "+engine") {
					t.Errorf("%04d_%s on %s: statement %q", m.Version, m.Name, d, s)
				}
			}
		}
	}
}
