package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/risk/screening"
)

func init() {
	operatorCommands["screening import"] = (*Main).cmdScreeningImport
}

// splitPositional separates args into the flags (with their values) that
// parseCommon reads and the positional arguments among them, so a file may
// come before or after the common flags. The flags are those of Config and
// extra.
func splitPositional(args []string, extra func(fs *flag.FlagSet)) (flags, positional []string) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c Config
	c.Flags(fs)
	extra(fs)
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return append(flags, rest...), positional // parseCommon reports it
		}
		left := fs.Args()
		flags = append(flags, rest[:len(rest)-len(left)]...)
		if len(left) == 0 {
			break
		}
		if len(rest)-len(left) > 0 && rest[len(rest)-len(left)-1] == "--" {
			return flags, append(positional, left...)
		}
		positional, rest = append(positional, left[0]), left[1:]
	}
	return flags, positional
}

// operatorName is who runs an operator command, as the audit names it:
// "operator:<OS user>".
func operatorName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "operator:" + u.Username
	}
	return "operator"
}

// cmdScreeningImport imports a sanctions or watch-list file, replacing the
// list's entries (risk/screening.Service.Import).
func (m *Main) cmdScreeningImport(ctx context.Context, args []string) error {
	var format, aliases string
	var asJSON bool
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "", "ofac-sdn (OFAC's sdn.csv), uk-csv (HM Treasury/OFSI ConList.csv) or csv (header name,list,reference)")
		fs.StringVar(&aliases, "aliases", "", "with --format ofac-sdn: OFAC's alt.csv, whose names become aliases")
		fs.BoolVar(&asJSON, "json", false, `print {"imports": [one per list]} as JSON`)
	}
	flags, files := splitPositional(args, extra)
	c, err := m.parseCommon("screening import", flags, extra)
	if err != nil {
		return err
	}
	if err := m.required("screening import", "format", format); err != nil {
		return err
	}
	if !screening.Format(format).Valid() {
		fmt.Fprintf(m.Stderr, "bankbridge screening import: --format must be ofac-sdn, uk-csv or csv, got %q\n", format)
		return errUsage
	}
	if len(files) != 1 {
		fmt.Fprintf(m.Stderr, "bankbridge screening import: give exactly one FILE, got %d\n", len(files))
		return errUsage
	}
	in := screening.ImportInput{Format: screening.Format(format), ActorType: audit.ActorSystem, ActorID: operatorName()}
	if in.File, err = os.ReadFile(files[0]); err != nil {
		return err
	}
	if aliases != "" {
		if in.Aliases, err = os.ReadFile(aliases); err != nil {
			return err
		}
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	imps, err := p.Services.Screening.Import(ctx, in)
	if err != nil {
		return fmt.Errorf("%s: %w", files[0], explain(err))
	}
	if asJSON {
		out := make([]map[string]any, len(imps))
		for i, x := range imps {
			out[i] = map[string]any{"id": x.ID, "list": x.List, "format": x.Format, "file_sha256": x.FileSHA256,
				"entries": x.Entries, "imported_at": x.At, "imported_by": x.By}
		}
		return m.printJSON(map[string]any{"imports": out})
	}
	for _, x := range imps {
		fmt.Fprintf(m.Stdout, "imported list %s: %d entries from %s (%s, sha256 %s); the previous entries are replaced\n",
			x.List, x.Entries, files[0], x.Format, x.FileSHA256)
	}
	if len(imps) > 1 {
		fmt.Fprintf(m.Stdout, "%d lists: %s\n", len(imps), strings.Join(listNames(imps), ", "))
	}
	return nil
}

func listNames(imps []screening.Import) []string {
	out := make([]string, len(imps))
	for i, x := range imps {
		out[i] = x.List
	}
	return out
}
