package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/bankbridge/bankbridge/internal/db"
)

func openDB(ctx context.Context, c *Config) (*db.DB, error) {
	return db.Open(ctx, db.Options{URL: c.DatabaseURL, SQLitePath: c.SQLitePath()})
}

// openOperatorPlatform opens the platform for an operator command (no listener).
func (m *Main) openOperatorPlatform(ctx context.Context, c *Config) (*Platform, error) {
	issuer := c.Issuer
	if issuer == "" {
		issuer = "http://" + c.Addr
	}
	p, err := OpenPlatform(ctx, c, issuer, newLogger(&Config{LogLevel: "warn", LogFormat: c.LogFormat}, os.Stderr))
	if err != nil {
		return nil, err
	}
	m.Platform = p
	return p, nil
}

// printJSON writes v as indented JSON.
func (m *Main) printJSON(v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runOperator dispatches the operator subcommands.
func (m *Main) runOperator(ctx context.Context, group string, args []string) error {
	if group == "settle" && (len(args) == 0 || args[0] != "run") { // `bankbridge settle --period …`
		args = append([]string{"run"}, args...)
	}
	if len(args) == 0 {
		fmt.Fprintf(m.Stderr, "bankbridge %s: missing subcommand\n", group)
		return errUsage
	}
	sub, args := args[0], args[1:]
	h, ok := operatorCommands[group+" "+sub]
	if !ok {
		fmt.Fprintf(m.Stderr, "bankbridge: unknown command %q\n", group+" "+sub)
		return errUsage
	}
	return h(m, ctx, args)
}

// operatorCommands maps "group sub" to its implementation.
var operatorCommands = map[string]func(m *Main, ctx context.Context, args []string) error{}
