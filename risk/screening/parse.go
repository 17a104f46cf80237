package screening

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseError is a file the parsers refuse: which file ("" for the main one,
// "aliases" for OFAC's alt.csv), the line (1-based; 0 when it is about the
// whole file) and what was wrong.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	where := ""
	if e.File != "" {
		where = e.File + " file "
	}
	if e.Line > 0 {
		return fmt.Sprintf("%sline %d: %s", where, e.Line, e.Msg)
	}
	if where != "" {
		return strings.TrimSpace(where) + ": " + e.Msg
	}
	return e.Msg
}

// maxFile bounds an import file (the OFAC SDN CSV is about 5 MB, the UK
// consolidated list about 10 MB).
const maxFile = 256 << 20

// errNoEntries is the message of a file without entries.
const errNoEntries = "the file holds no entries"

// ofacEmpty is the OFAC files' "no value".
const ofacEmpty = "-0-"

// records reads CSV records with their line numbers. A UTF-8 byte-order
// mark is dropped; a last line holding only the DOS end-of-file character
// (Ctrl-Z, which OFAC's files end with) is ignored. Every field must be
// UTF-8.
type records struct {
	r    *csv.Reader
	file string
}

func newRecords(b []byte, file string) *records {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	return &records{r: r, file: file}
}

// each calls fn with every record and its line, in order, until fn
// returns an error (returned) or the records end (nil); a CSV error is
// returned as a *ParseError.
func (rs *records) each(fn func(rec []string, line int) error) error {
	for {
		rec, line, err := rs.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rec, line); err != nil {
			return err
		}
	}
}

// next returns the next record and its line, or io.EOF.
func (rs *records) next() ([]string, int, error) {
	for {
		rec, err := rs.r.Read()
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, &ParseError{File: rs.file, Line: pe.Line, Msg: "not valid CSV: " + pe.Err.Error()}
			}
			return nil, 0, &ParseError{File: rs.file, Msg: "not valid CSV: " + err.Error()}
		}
		line, _ := rs.r.FieldPos(0)
		if len(rec) == 1 && strings.Trim(rec[0], "\x1a \t") == "" {
			continue // Ctrl-Z or blank-ish line
		}
		for i, f := range rec {
			if !utf8.ValidString(f) {
				return nil, 0, &ParseError{File: rs.file, Line: line, Msg: fmt.Sprintf("field %d is not UTF-8 text", i+1)}
			}
			rec[i] = strings.TrimSpace(f)
		}
		return rec, line, nil
	}
}

func (rs *records) fail(line int, format string, args ...any) error {
	return &ParseError{File: rs.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func checkSize(b []byte, file string) error {
	if len(b) > maxFile {
		return &ParseError{File: file, Msg: fmt.Sprintf("the file is larger than %d MiB", maxFile>>20)}
	}
	return nil
}

// checkField bounds a field's length.
func (rs *records) checkField(line int, name, v string) error {
	if len(v) > maxField {
		return rs.fail(line, "%s is longer than %d bytes", name, maxField)
	}
	return nil
}

// The OFAC SDN CSV columns (sdn.csv, no header).
const (
	sdnEntNum = iota
	sdnName
	sdnType
	sdnProgram
	sdnColumns = 12
)

// The OFAC alt.csv columns (no header).
const (
	altEntNum = iota
	altNum
	altType
	altName
	altColumns = 5
)

// ofacValue is an OFAC field with "-0-" as empty.
func ofacValue(s string) string {
	if s == ofacEmpty {
		return ""
	}
	return s
}

// ParseOFACSDN reads OFAC's sdn.csv (12 columns, no header: ent_num,
// SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
// Vess_flag, Vess_owner, Remarks; "-0-" is empty) and, when alt is not nil,
// its alt.csv (5 columns: ent_num, alt_num, alt_type, alt_name,
// alt_remarks), whose names become the entries' aliases. SDN_Type "-0-" is
// an entity. Refusals (*ParseError): a line with another number of
// columns, an ent_num that is not a positive integer or repeats, an empty
// SDN_Name, an unknown SDN_Type, an alias of an ent_num the SDN file does
// not list, an empty alt_name, a file without entries.
func ParseOFACSDN(sdn, alt []byte) ([]Entry, error) {
	if err := checkSize(sdn, ""); err != nil {
		return nil, err
	}
	rs := newRecords(sdn, "")
	var out []Entry
	byNum := map[string]int{}
	lineOf := map[string]int{}
	if err := rs.each(func(rec []string, line int) error {
		if len(rec) != sdnColumns {
			return rs.fail(line, "%d columns, want %d (ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks)", len(rec), sdnColumns)
		}
		num := rec[sdnEntNum]
		if n, err := strconv.ParseInt(num, 10, 64); err != nil || n <= 0 {
			return rs.fail(line, "ent_num %q is not a positive integer", num)
		}
		if prev, dup := lineOf[num]; dup {
			return rs.fail(line, "ent_num %s is already on line %d", num, prev)
		}
		name := ofacValue(rec[sdnName])
		if name == "" {
			return rs.fail(line, "SDN_Name is empty")
		}
		kind, ok := map[string]string{"": "entity", "individual": "individual", "vessel": "vessel", "aircraft": "aircraft"}[strings.ToLower(ofacValue(rec[sdnType]))]
		if !ok {
			return rs.fail(line, "SDN_Type %q is not -0-, individual, vessel or aircraft", rec[sdnType])
		}
		program := ofacValue(rec[sdnProgram])
		for _, f := range []struct{ n, v string }{{"SDN_Name", name}, {"Program", program}} {
			if err := rs.checkField(line, f.n, f.v); err != nil {
				return err
			}
		}
		lineOf[num], byNum[num] = line, len(out)
		out = append(out, Entry{List: ListOFACSDN, Reference: num, Name: name, Kind: kind, Program: program})
		return nil
	}); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &ParseError{Msg: errNoEntries}
	}
	if alt == nil {
		return out, nil
	}
	if err := checkSize(alt, "aliases"); err != nil {
		return nil, err
	}
	ra := newRecords(alt, "aliases")
	seen := map[string]int{}
	if err := ra.each(func(rec []string, line int) error {
		if len(rec) != altColumns {
			return ra.fail(line, "%d columns, want %d (ent_num, alt_num, alt_type, alt_name, alt_remarks)", len(rec), altColumns)
		}
		i, ok := byNum[rec[altEntNum]]
		if !ok {
			return ra.fail(line, "ent_num %q is not in the SDN file", rec[altEntNum])
		}
		key := rec[altEntNum] + "/" + rec[altNum]
		if prev, dup := seen[key]; dup {
			return ra.fail(line, "alt_num %s of ent_num %s is already on line %d", rec[altNum], rec[altEntNum], prev)
		}
		seen[key] = line
		name := ofacValue(rec[altName])
		if name == "" {
			return ra.fail(line, "alt_name is empty")
		}
		typ := ofacValue(rec[altType])
		if err := ra.checkField(line, "alt_name", name); err != nil {
			return err
		}
		if err := ra.checkField(line, "alt_type", typ); err != nil {
			return err
		}
		out[i].Aliases = append(out[i].Aliases, Alias{Name: name, Type: typ})
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// The UK consolidated list columns the parser reads, by header name. The
// file (HM Treasury/OFSI ConList.csv, "2022 format") starts with the line
// "Last Updated,<date>", then a header row: Name 6, Name 1, Name 2, Name 3,
// Name 4, Name 5, Title, Name Non-Latin Script, Non-Latin Script Type,
// Non-Latin Script Language, DOB, Town of Birth, Country of Birth,
// Nationality, Passport Number, Passport Details, National Identification
// Number, National Identification Details, Position, Address 1 … Address 6,
// Post/Zip Code, Country, Other Information, Group Type, Alias Type, Alias
// Quality, Regime, Listed On, UK Sanctions List Date Designated, Last
// Updated, Group ID. Columns are found by name (case and spaces ignored),
// so their order may change; Name 1 to Name 6 and Group ID are required,
// the others optional.
const (
	ukGroupID   = "group id"
	ukGroupType = "group type"
	ukAliasType = "alias type"
	ukRegime    = "regime"
	ukNonLatin  = "name non-latin script"
)

// ukNames are the name columns in the order a name is assembled: given
// names (Name 1 … Name 5) then Name 6, the surname or the entity's name.
var ukNames = []string{"name 1", "name 2", "name 3", "name 4", "name 5", "name 6"}

// ParseUKCSV reads HM Treasury/OFSI's consolidated list CSV. Each row is
// one name of a target; rows sharing a Group ID are one entry, whose name is
// the row with Alias Type "Primary name" (else the first row) and whose
// other rows are aliases (type: their Alias Type); a "Name Non-Latin Script"
// is an alias too. A name is Name 1 … Name 5 then Name 6, joined by spaces.
// Group Type Individual/Entity/Ship becomes the kind, Regime the
// programme. Refusals (*ParseError): a first line that is not "Last
// Updated,…", a header without a Name 1 … Name 6 or Group ID column, a row
// with another number of columns than the header, a row without a name or
// Group ID, a file without entries.
func ParseUKCSV(b []byte) ([]Entry, error) {
	if err := checkSize(b, ""); err != nil {
		return nil, err
	}
	rs := newRecords(b, "")
	first, line, err := rs.next()
	if err == io.EOF {
		return nil, &ParseError{Msg: errNoEntries}
	}
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(first[0], "Last Updated") {
		return nil, rs.fail(line, `the first line must be "Last Updated,<date>", got %q`, strings.Join(first, ","))
	}
	header, hline, err := rs.next()
	if err == io.EOF {
		return nil, &ParseError{Line: line + 1, Msg: "the header row (Name 6, Name 1 … Group ID) is missing"}
	}
	if err != nil {
		return nil, err
	}
	line = hline
	col := map[string]int{}
	for i, h := range header {
		col[strings.Join(strings.Fields(strings.ToLower(h)), " ")] = i
	}
	for _, need := range append(append([]string(nil), ukNames...), ukGroupID) {
		if _, ok := col[need]; !ok {
			return nil, rs.fail(line, "the header has no %q column", titleCol(need))
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return rec[i]
		}
		return ""
	}
	var out []Entry
	group := map[string]int{}
	primary := map[string]bool{}
	firstType := map[string]string{} // the Alias Type of a group's first row
	if err := rs.each(func(rec []string, l int) error {
		if len(rec) != len(header) {
			return rs.fail(l, "%d columns, the header has %d", len(rec), len(header))
		}
		var parts []string
		for _, n := range ukNames {
			if v := get(rec, n); v != "" {
				parts = append(parts, v)
			}
		}
		name := strings.Join(parts, " ")
		if name == "" {
			return rs.fail(l, "no name: Name 1 to Name 6 are empty")
		}
		gid := get(rec, ukGroupID)
		if gid == "" {
			return rs.fail(l, "Group ID is empty")
		}
		aliasType, nonLatin := get(rec, ukAliasType), get(rec, ukNonLatin)
		program := get(rec, ukRegime)
		for _, f := range []struct{ n, v string }{{"the name", name}, {"Group ID", gid}, {"Alias Type", aliasType},
			{"Name Non-Latin Script", nonLatin}, {"Regime", program}} {
			if err := rs.checkField(l, f.n, f.v); err != nil {
				return err
			}
		}
		isPrimary := strings.EqualFold(aliasType, "Primary name")
		i, seen := group[gid]
		switch {
		case !seen:
			group[gid], primary[gid], firstType[gid] = len(out), isPrimary, aliasType
			out = append(out, Entry{List: ListUKHMT, Reference: gid, Name: name, Kind: ukKind(get(rec, ukGroupType)), Program: program})
			i = len(out) - 1
		case isPrimary && !primary[gid]:
			// The primary name comes after an alias: swap them.
			e := &out[i]
			typ := firstType[gid]
			if typ == "" {
				typ = "alias"
			}
			e.Aliases = appendAlias(e.Aliases, name, Alias{Name: e.Name, Type: typ})
			e.Name, primary[gid] = name, true
		default:
			typ := aliasType
			if typ == "" {
				typ = "alias"
			}
			out[i].Aliases = appendAlias(out[i].Aliases, out[i].Name, Alias{Name: name, Type: typ})
		}
		if nonLatin != "" {
			out[i].Aliases = appendAlias(out[i].Aliases, out[i].Name, Alias{Name: nonLatin, Type: "non-Latin script"})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &ParseError{Msg: errNoEntries}
	}
	return out, nil
}

// appendAlias appends a unless the entry already has that name.
func appendAlias(as []Alias, name string, a Alias) []Alias {
	if a.Name == name {
		return as
	}
	for _, x := range as {
		if x.Name == a.Name {
			return as
		}
	}
	return append(as, a)
}

func titleCol(c string) string {
	if c == ukGroupID {
		return "Group ID"
	}
	return "N" + c[1:]
}

func ukKind(groupType string) string {
	switch strings.ToLower(groupType) {
	case "individual":
		return "individual"
	case "entity":
		return "entity"
	case "ship":
		return "vessel"
	}
	return ""
}

// ParseSimpleCSV reads a CSV whose first line is the header
// `name,list,reference` and whose rows are one name each. A row whose list
// and reference repeat an earlier row's adds an alias to that entry. A list
// is 1–64 of a-z, 0-9, '-', '_', '.', and not one of the official lists
// (ListOFACSDN, ListUKHMT: those are replaced only from their own files).
// Refusals (*ParseError): another header, a row without three columns, an
// empty name or reference, an invalid or official list, a file without
// entries.
func ParseSimpleCSV(b []byte) ([]Entry, error) {
	if err := checkSize(b, ""); err != nil {
		return nil, err
	}
	rs := newRecords(b, "")
	header, line, err := rs.next()
	if err == io.EOF {
		return nil, &ParseError{Msg: errNoEntries}
	}
	if err != nil {
		return nil, err
	}
	if len(header) != 3 || !strings.EqualFold(header[0], "name") || !strings.EqualFold(header[1], "list") || !strings.EqualFold(header[2], "reference") {
		return nil, rs.fail(line, "the header must be name,list,reference, got %q", strings.Join(header, ","))
	}
	var out []Entry
	byKey := map[string]int{}
	if err := rs.each(func(rec []string, l int) error {
		if len(rec) != 3 {
			return rs.fail(l, "%d columns, want 3 (name, list, reference)", len(rec))
		}
		name, list, ref := rec[0], rec[1], rec[2]
		switch {
		case name == "":
			return rs.fail(l, "name is empty")
		case !validList(list):
			return rs.fail(l, "list %q must be 1 to 64 of a-z, 0-9, '-', '_' or '.'", list)
		case list == ListOFACSDN || list == ListUKHMT:
			return rs.fail(l, "list %q is imported only from its official file (--format %s)", list, officialFormat(list))
		case ref == "":
			return rs.fail(l, "reference is empty")
		}
		for _, f := range []struct{ n, v string }{{"name", name}, {"reference", ref}} {
			if err := rs.checkField(l, f.n, f.v); err != nil {
				return err
			}
		}
		key := list + "\x00" + ref
		if i, ok := byKey[key]; ok {
			out[i].Aliases = appendAlias(out[i].Aliases, out[i].Name, Alias{Name: name, Type: "alias"})
			return nil
		}
		byKey[key] = len(out)
		out = append(out, Entry{List: list, Reference: ref, Name: name})
		return nil
	}); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &ParseError{Msg: errNoEntries}
	}
	return out, nil
}

// officialFormat is the format of an official list.
func officialFormat(list string) Format {
	if list == ListUKHMT {
		return FormatUKCSV
	}
	return FormatOFACSDN
}

// Parse reads file in format f (aliases: OFAC's alt.csv, only with
// FormatOFACSDN).
func Parse(f Format, file, aliases []byte) ([]Entry, error) {
	if aliases != nil && f != FormatOFACSDN {
		return nil, &ParseError{Msg: "an aliases file is read only with the ofac-sdn format"}
	}
	switch f {
	case FormatOFACSDN:
		return ParseOFACSDN(file, aliases)
	case FormatUKCSV:
		return ParseUKCSV(file)
	case FormatCSV:
		return ParseSimpleCSV(file)
	}
	return nil, &ParseError{Msg: fmt.Sprintf("unknown format %q: want ofac-sdn, uk-csv or csv", f)}
}
