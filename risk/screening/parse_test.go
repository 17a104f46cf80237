package screening

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseOFACSDNFixture(t *testing.T) {
	got, err := ParseOFACSDN(mustRead(t, "sdn.csv"), mustRead(t, "alt.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{List: ListOFACSDN, Reference: "36", Name: "AEROCARIBBEAN AIRLINES", Kind: "entity", Program: "CUBA"},
		{List: ListOFACSDN, Reference: "1001", Name: "IVANOV, Sergei Petrovich", Kind: "individual", Program: "RUSSIA-EO14024",
			Aliases: []Alias{{Name: "IVANOV, Sergey", Type: "aka"}}},
		{List: ListOFACSDN, Reference: "1002", Name: "OCEAN STAR", Kind: "vessel", Program: "IRAN"},
		{List: ListOFACSDN, Reference: "1003", Name: "MULLER HANDELS GMBH", Kind: "entity", Program: "SDGT",
			Aliases: []Alias{{Name: "MUELLER TRADING COMPANY", Type: "fka"}}},
		{List: ListOFACSDN, Reference: "1004", Name: "AL-RASHID, Hassan Ali", Kind: "individual", Program: "SDGT] [IRGC",
			Aliases: []Alias{{Name: "ABU ALI", Type: "aka"}, {Name: "RASHID, Hasan", Type: "aka"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries\n%+v\nwant\n%+v", got, want)
	}
	noAlt, err := ParseOFACSDN(mustRead(t, "sdn.csv"), nil)
	if err != nil || len(noAlt) != 5 || noAlt[1].Aliases != nil {
		t.Fatalf("without alt.csv: %+v, %v", noAlt, err)
	}
}

func TestParseUKCSVFixture(t *testing.T) {
	got, err := ParseUKCSV(mustRead(t, "ConList.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{List: ListUKHMT, Reference: "15001", Name: "Aleksandr Ivanovich PETROV", Kind: "individual", Program: "Russia",
			Aliases: []Alias{{Name: "Петров Александр Иванович", Type: "non-Latin script"}, {Name: "Alexander PETROFF", Type: "AKA"}}},
		{List: ListUKHMT, Reference: "15002", Name: "NORTHERN STAR SHIPPING LLC", Kind: "entity", Program: "Russia",
			Aliases: []Alias{{Name: "ООО Северная Звезда", Type: "non-Latin script"}, {Name: "SEVERNAYA ZVEZDA", Type: "AKA"}}},
		{List: ListUKHMT, Reference: "15003", Name: "Nikolaos KARAGIANNIS", Kind: "individual", Program: "Global Anti-Corruption",
			Aliases: []Alias{{Name: "Νικόλαος Καραγιάννης", Type: "non-Latin script"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseUKCSVPrimaryAfterAlias(t *testing.T) {
	f := "Last Updated,04/12/2026\nName 6,Name 1,Name 2,Name 3,Name 4,Name 5,Alias Type,Group ID\n" +
		"SMYTHE,John,,,,,AKA,7\nSMITH,John,,,,,Primary name,7\n"
	got, err := ParseUKCSV([]byte(f))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{List: ListUKHMT, Reference: "7", Name: "John SMITH", Aliases: []Alias{{Name: "John SMYTHE", Type: "AKA"}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %+v", got)
	}
}

func TestParseSimpleCSVFixture(t *testing.T) {
	got, err := ParseSimpleCSV(mustRead(t, "watchlist.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{List: "internal-watch", Reference: "W-1", Name: "José Fernández García", Aliases: []Alias{{Name: "Jose Fernandez Garcia", Type: "alias"}}},
		{List: "internal-watch", Reference: "W-2", Name: "O'Brien & Sons, Ltd."},
		{List: "pep", Reference: "P-77", Name: "Zhang Wei"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries\n%+v\nwant\n%+v", got, want)
	}
}

// TestParseRefusals checks every refusal's exact message: the line and what
// was wrong.
func TestParseRefusals(t *testing.T) {
	sdnRow := `1,"A NAME",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n"
	ukHead := "Last Updated,04/12/2026\nName 6,Name 1,Name 2,Name 3,Name 4,Name 5,Group Type,Group ID\n"
	for _, c := range []struct {
		name      string
		format    Format
		file, alt string
		want      string
	}{
		{"fail/ofac-columns", FormatOFACSDN, sdnRow + `2,"B",-0- ,"CUBA"` + "\n", "", "line 2: 4 columns, want 12 (ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks)"},
		{"fail/ofac-ent-num", FormatOFACSDN, `x1,"A",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n", "", `line 1: ent_num "x1" is not a positive integer`},
		{"fail/ofac-duplicate", FormatOFACSDN, sdnRow + sdnRow, "", "line 2: ent_num 1 is already on line 1"},
		{"fail/ofac-empty-name", FormatOFACSDN, `1,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n", "", "line 1: SDN_Name is empty"},
		{"fail/ofac-type", FormatOFACSDN, `1,"A","robot",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n", "", `line 1: SDN_Type "robot" is not -0-, individual, vessel or aircraft`},
		{"fail/ofac-bad-quote", FormatOFACSDN, sdnRow + `2,"A "B" C",-0-` + "\n", "", `line 2: not valid CSV: extraneous or missing " in quoted-field`},
		{"fail/ofac-not-utf8", FormatOFACSDN, sdnRow + "2,\"M\xfcller\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n", "", "line 2: field 2 is not UTF-8 text"},
		{"fail/ofac-empty", FormatOFACSDN, "\x1a", "", "the file holds no entries"},
		{"fail/alt-unknown-entity", FormatOFACSDN, sdnRow, `9,1,"aka","X",-0- ` + "\n", `aliases file line 1: ent_num "9" is not in the SDN file`},
		{"fail/alt-columns", FormatOFACSDN, sdnRow, `1,1,"aka"` + "\n", "aliases file line 1: 3 columns, want 5 (ent_num, alt_num, alt_type, alt_name, alt_remarks)"},
		{"fail/alt-empty-name", FormatOFACSDN, sdnRow, `1,1,"aka",-0- ,-0- ` + "\n", "aliases file line 1: alt_name is empty"},
		{"fail/alt-duplicate", FormatOFACSDN, sdnRow, `1,1,"aka","X",-0- ` + "\n" + `1,1,"aka","Y",-0- ` + "\n", "aliases file line 2: alt_num 1 of ent_num 1 is already on line 1"},
		{"fail/uk-first-line", FormatUKCSV, "Name 6,Name 1\n", "", `line 1: the first line must be "Last Updated,<date>", got "Name 6,Name 1"`},
		{"fail/uk-no-header", FormatUKCSV, "Last Updated,04/12/2026\n", "", "line 2: the header row (Name 6, Name 1 … Group ID) is missing"},
		{"fail/uk-header-column", FormatUKCSV, "Last Updated,04/12/2026\nName 6,Name 1,Name 2,Name 3,Name 5,Group ID\n", "", `line 2: the header has no "Name 4" column`},
		{"fail/uk-group-id-column", FormatUKCSV, "Last Updated,04/12/2026\nName 6,Name 1,Name 2,Name 3,Name 4,Name 5\n", "", `line 2: the header has no "Group ID" column`},
		{"fail/uk-columns", FormatUKCSV, ukHead + "SMITH,John,,,,,Individual\n", "", "line 3: 7 columns, the header has 8"},
		{"fail/uk-no-name", FormatUKCSV, ukHead + "SMITH,John,,,,,Individual,1\n,,,,,,Entity,2\n", "", "line 4: no name: Name 1 to Name 6 are empty"},
		{"fail/uk-no-group", FormatUKCSV, ukHead + "SMITH,John,,,,,Individual,\n", "", "line 3: Group ID is empty"},
		{"fail/uk-empty", FormatUKCSV, ukHead, "", "the file holds no entries"},
		{"fail/csv-header", FormatCSV, "name,reference,list\nA,b,c\n", "", `line 1: the header must be name,list,reference, got "name,reference,list"`},
		{"fail/csv-columns", FormatCSV, "name,list,reference\nA,b\n", "", "line 2: 2 columns, want 3 (name, list, reference)"},
		{"fail/csv-empty-name", FormatCSV, "name,list,reference\nA,pep,1\n ,pep,2\n", "", "line 3: name is empty"},
		{"fail/csv-list", FormatCSV, "name,list,reference\nA,Pep List,1\n", "", `line 2: list "Pep List" must be 1 to 64 of a-z, 0-9, '-', '_' or '.'`},
		{"fail/csv-official-list", FormatCSV, "name,list,reference\nA,pep,1\nB,uk-hmt,2\n", "", `line 3: list "uk-hmt" is imported only from its official file (--format uk-csv)`},
		{"fail/csv-reference", FormatCSV, "name,list,reference\nA,pep,\n", "", "line 2: reference is empty"},
		{"fail/csv-empty", FormatCSV, "name,list,reference\n", "", "the file holds no entries"},
		{"fail/csv-nothing", FormatCSV, "", "", "the file holds no entries"},
		{"fail/aliases-with-csv", FormatCSV, "name,list,reference\nA,pep,1\n", "x", "an aliases file is read only with the ofac-sdn format"},
		{"fail/unknown-format", Format("xml"), "x", "", `unknown format "xml": want ofac-sdn, uk-csv or csv`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var alt []byte
			if c.alt != "" {
				alt = []byte(c.alt)
			}
			es, err := Parse(c.format, []byte(c.file), alt)
			var pe *ParseError
			if !errors.As(err, &pe) || err.Error() != c.want {
				t.Fatalf("Parse = %+v, %v\nwant error %q", es, err, c.want)
			}
		})
	}
}
