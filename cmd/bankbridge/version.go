package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// BuildInfo is what `bankbridge version` reports, from the build information
// the Go toolchain embeds in the binary (runtime/debug.ReadBuildInfo).
type BuildInfo struct {
	// Module is the main module's path; Version its version ("(devel)" for a
	// build from a work tree, a tag or pseudo-version for `go install …@v`).
	Module  string `json:"module"`
	Version string `json:"version"`
	// Revision, Time and Modified are the VCS stamp (vcs.revision, vcs.time,
	// vcs.modified): empty, zero and false when built without -buildvcs
	// (e.g. `go run`, `go test`, or no .git in a container's build context).
	Revision string     `json:"vcs_revision,omitempty"`
	Time     *time.Time `json:"vcs_time,omitempty"`
	Modified bool       `json:"vcs_modified"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// readBuildInfo returns the binary's build information; when the binary
// carries none (it always does when built with module support) only the Go
// version and platform are filled.
func readBuildInfo() BuildInfo {
	out := BuildInfo{GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	return buildInfoFrom(bi, out.Platform)
}

// buildInfoFrom extracts the fields of BuildInfo from bi.
func buildInfoFrom(bi *debug.BuildInfo, platform string) BuildInfo {
	out := BuildInfo{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion, Platform: platform}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Revision = s.Value
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				t = t.UTC()
				out.Time = &t
			}
		case "vcs.modified":
			out.Modified, _ = strconv.ParseBool(s.Value)
		}
	}
	return out
}

// String is the one-line form: "bankbridge (devel) 1a2b3c4d5e6f (2026-12-04T10:00:00Z, modified) go1.26.8 linux/amd64".
func (b BuildInfo) String() string {
	version := b.Version
	if version == "" {
		version = "(unknown)"
	}
	s := "bankbridge " + version
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " " + rev
		switch {
		case b.Time != nil && b.Modified:
			s += " (" + b.Time.Format(time.RFC3339) + ", modified)"
		case b.Time != nil:
			s += " (" + b.Time.Format(time.RFC3339) + ")"
		case b.Modified:
			s += " (modified)"
		}
	}
	return s + " " + b.GoVersion + " " + b.Platform
}

// runVersion prints the build information: one line, or JSON with --json.
func (m *Main) runVersion(args []string) error {
	fs := flag.NewFlagSet("bankbridge version", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	asJSON := fs.Bool("json", false, "print the build information as JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "bankbridge version: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	info := readBuildInfo()
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	_, err := fmt.Fprintln(m.Stdout, info.String())
	return err
}
