// Package screening is sanctions and watch-list screening (issue 16 item 3):
// lists imported offline from the operator's files (OFAC SDN CSV with its
// alt.csv aliases, the UK consolidated list CSV of HM Treasury/OFSI, a simple
// `name,list,reference` CSV), and a matcher that compares a name against
// every entry and alias after normalisation and transliteration
// (normalize.go) with Jaro–Winkler similarity (jarowinkler.go), each match
// explained.
//
// The matcher keeps the entries in memory on each node (an Index with a
// token blocking prefilter, index.go); an import tells every node through
// internal/cachebus to reload, and while the bus is down (or is the
// in-process one of SQLite, which the importing CLI process does not share)
// each Screen checks the lists' version in the database first.
package screening

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format is the layout of an import file.
type Format string

// The import formats.
const (
	// FormatOFACSDN is OFAC's sdn.csv (no header; ent_num, SDN_Name,
	// SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
	// Vess_flag, Vess_owner, Remarks; "-0-" is empty), optionally with its
	// alt.csv (ent_num, alt_num, alt_type, alt_name, alt_remarks). Its list
	// is ListOFACSDN.
	FormatOFACSDN Format = "ofac-sdn"
	// FormatUKCSV is HM Treasury/OFSI's ConList.csv (see ParseUKCSV). Its
	// list is ListUKHMT.
	FormatUKCSV Format = "uk-csv"
	// FormatCSV is a CSV with the header `name,list,reference`; each row
	// names its list, and every list named in the file is replaced.
	FormatCSV Format = "csv"
)

// Formats lists the import formats, as the CLI names them.
var Formats = []Format{FormatOFACSDN, FormatUKCSV, FormatCSV}

// Valid reports whether f is a known format.
func (f Format) Valid() bool {
	for _, x := range Formats {
		if f == x {
			return true
		}
	}
	return false
}

// The lists of the official formats.
const (
	ListOFACSDN = "ofac-sdn"
	ListUKHMT   = "uk-hmt"
)

// Alias is another name of an entry: an OFAC a.k.a./f.k.a./n.k.a., a UK
// alias row or its non-Latin script name.
type Alias struct {
	Name string `json:"name"`
	// Type is the list's own word for it ("a.k.a.", "AKA", "Primary name
	// variation", "non-Latin script").
	Type string `json:"type,omitempty"`
}

// Entry is one listed party.
type Entry struct {
	// List is the list's key (ListOFACSDN, ListUKHMT or a simple CSV's
	// list column).
	List string
	// Reference is the list's id of the party (OFAC ent_num, UK Group ID,
	// the CSV's reference).
	Reference string
	Name      string
	// Kind is "individual", "entity", "vessel", "aircraft" or "" (unknown).
	Kind string
	// Program is the sanctions programme or regime, as the list gives it.
	Program string
	Aliases []Alias
}

// ErrInvalidEntry is an entry Validate refuses; the wrapping error says why.
var ErrInvalidEntry = errors.New("screening: invalid entry")

// maxField bounds every text field of an entry.
const maxField = 1000

// Validate checks the entry has a list, a reference and a name, each at most
// 1000 characters, and aliases with names.
func (e Entry) Validate() error {
	for _, f := range []struct{ name, v string }{{"list", e.List}, {"reference", e.Reference}, {"name", e.Name}} {
		if strings.TrimSpace(f.v) == "" {
			return fmt.Errorf("%w: %s is empty", ErrInvalidEntry, f.name)
		}
		if len(f.v) > maxField {
			return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalidEntry, f.name, maxField)
		}
	}
	if !validList(e.List) {
		return fmt.Errorf("%w: list %q must be 1 to 64 of a-z, 0-9, '-', '_' or '.'", ErrInvalidEntry, e.List)
	}
	for i, a := range e.Aliases {
		if strings.TrimSpace(a.Name) == "" {
			return fmt.Errorf("%w: alias %d has no name", ErrInvalidEntry, i+1)
		}
		if len(a.Name) > maxField || len(a.Type) > maxField {
			return fmt.Errorf("%w: alias %d is longer than %d bytes", ErrInvalidEntry, i+1, maxField)
		}
	}
	return nil
}

// validList reports whether s is a list key: 1–64 of a-z, 0-9, '-', '_', '.'.
func validList(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Import is the record of one list's import.
type Import struct {
	ID     string
	List   string
	Format Format
	// FileSHA256 is the hex SHA-256 of the imported file (of sdn.csv and
	// alt.csv together, in that order, for OFAC with aliases).
	FileSHA256 string
	Entries    int
	At         time.Time
	// By is who imported: "operator:<os user>" from the CLI, or a staff id.
	By string
}

// Match is one entry name that matched a screened name, explained.
type Match struct {
	List      string `json:"list"`
	Reference string `json:"reference"`
	// EntryName is the entry's primary name.
	EntryName string `json:"entry_name"`
	// MatchedName is the name that matched: EntryName or an alias.
	MatchedName string `json:"matched_name"`
	// Alias is true when MatchedName is an alias; AliasType its type.
	Alias     bool   `json:"alias"`
	AliasType string `json:"alias_type,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Program   string `json:"program,omitempty"`
	// Query and Candidate are the normalised forms compared.
	Query     string `json:"query_normalised"`
	Candidate string `json:"candidate_normalised"`
	// Score is the Jaro–Winkler similarity (0–1) of the best comparison;
	// Method says which: MethodSortedTokens or MethodTokenAlignment.
	Score  float64 `json:"score"`
	Method string  `json:"method"`
	// Pairs are the aligned token pairs with their scores (MethodTokenAlignment).
	Pairs []TokenPair `json:"pairs,omitempty"`
}

// TokenPair is one aligned pair of tokens and its Jaro–Winkler similarity.
type TokenPair struct {
	Query     string  `json:"query"`
	Candidate string  `json:"candidate"`
	Score     float64 `json:"score"`
}

// ListSummary is one imported list as the console shows it: its current
// entry count and its latest import.
type ListSummary struct {
	List    string
	Entries int
	Last    Import
}
