package db

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Column is one column as both engines can describe it.
type Column struct {
	Name    string
	Type    string // canonical: text, integer, bigint, boolean, timestamp, bytes, double
	NotNull bool
}

// Index is one index (primary keys excluded).
type Index struct {
	Name    string
	Unique  bool
	Columns string // comma-separated, in index order
}

// Table is one table's columns and indexes, sorted by name.
type Table struct {
	Columns []Column
	Indexes []Index
}

// Schema is every application table, keyed by name.
type Schema map[string]Table

// Describe reads the live schema in canonical form, so the two engines can be compared.
func (d *DB) Describe(ctx context.Context) (Schema, error) {
	g := d.DB.WithContext(ctx)
	out := Schema{}
	var tables []string
	switch d.Dialect {
	case SQLite:
		if err := g.Raw(`SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'`).Scan(&tables).Error; err != nil {
			return nil, err
		}
	default:
		if err := g.Raw(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type='BASE TABLE'`).Scan(&tables).Error; err != nil {
			return nil, err
		}
	}
	for _, t := range tables {
		var tb Table
		switch d.Dialect {
		case SQLite:
			var cols []struct {
				Name    string
				Type    string
				NotNull int `gorm:"column:notnull"`
				PK      int `gorm:"column:pk"`
			}
			if err := g.Raw(fmt.Sprintf(`SELECT name, type, "notnull", pk FROM pragma_table_info('%s')`, t)).Scan(&cols).Error; err != nil {
				return nil, err
			}
			for _, c := range cols {
				typ := canonicalType(c.Type)
				if typ == "integer" && c.PK == 1 {
					typ = "bigint" // BIGSERIAL PRIMARY KEY on PostgreSQL
				}
				tb.Columns = append(tb.Columns, Column{Name: c.Name, Type: typ, NotNull: c.NotNull == 1 || c.PK == 1})
			}
			var idx []struct {
				Name   string
				Unique int
				Origin string
			}
			if err := g.Raw(fmt.Sprintf(`SELECT name, "unique", origin FROM pragma_index_list('%s')`, t)).Scan(&idx).Error; err != nil {
				return nil, err
			}
			for _, ix := range idx {
				if ix.Origin == "pk" {
					continue
				}
				var cols []string
				if err := g.Raw(fmt.Sprintf(`SELECT name FROM pragma_index_info('%s') ORDER BY seqno`, ix.Name)).Scan(&cols).Error; err != nil {
					return nil, err
				}
				name := ix.Name
				if ix.Origin == "u" { // inline UNIQUE constraint: auto-named differently per engine
					name = "unique(" + strings.Join(cols, ",") + ")"
				}
				tb.Indexes = append(tb.Indexes, Index{Name: name, Unique: ix.Unique == 1, Columns: strings.Join(cols, ",")})
			}
		default:
			var cols []struct {
				ColumnName string
				DataType   string
				IsNullable string
			}
			if err := g.Raw(`SELECT column_name, data_type, is_nullable FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = ?`, t).Scan(&cols).Error; err != nil {
				return nil, err
			}
			for _, c := range cols {
				tb.Columns = append(tb.Columns, Column{Name: c.ColumnName, Type: canonicalType(c.DataType), NotNull: c.IsNullable == "NO"})
			}
			var idx []struct {
				Name       string
				Unique     bool
				Columns    string
				Constraint bool
			}
			if err := g.Raw(`SELECT i.relname AS name, ix.indisunique AS "unique",
					array_to_string(ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(n, o)
						JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n ORDER BY k.o), ',') AS columns,
					EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype = 'u') AS "constraint"
				FROM pg_index ix
				JOIN pg_class i ON i.oid = ix.indexrelid
				JOIN pg_class t ON t.oid = ix.indrelid
				JOIN pg_namespace n ON n.oid = t.relnamespace
				WHERE n.nspname = current_schema() AND t.relname = ? AND NOT ix.indisprimary`, t).Scan(&idx).Error; err != nil {
				return nil, err
			}
			for _, ix := range idx {
				name := ix.Name
				if ix.Constraint {
					name = "unique(" + ix.Columns + ")"
				}
				tb.Indexes = append(tb.Indexes, Index{Name: name, Unique: ix.Unique, Columns: ix.Columns})
			}
		}
		sort.Slice(tb.Columns, func(i, j int) bool { return tb.Columns[i].Name < tb.Columns[j].Name })
		sort.Slice(tb.Indexes, func(i, j int) bool { return tb.Indexes[i].Name < tb.Indexes[j].Name })
		out[t] = tb
	}
	return out, nil
}

func canonicalType(t string) string {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "text", "character varying", "varchar":
		return "text"
	case "integer", "int", "int4":
		return "integer"
	case "bigint", "int8":
		return "bigint"
	case "boolean", "bool":
		return "boolean"
	case "datetime", "timestamp with time zone", "timestamptz":
		return "timestamp"
	case "blob", "bytea":
		return "bytes"
	case "double precision", "real", "double":
		return "double"
	}
	return "unknown:" + t
}
