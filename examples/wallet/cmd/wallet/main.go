// Command wallet runs the example wallet backend (package
// github.com/bankbridge/bankbridge/examples/wallet) against a Bankbridge
// platform. See examples/wallet/README.md.
//
//	go run ./examples/wallet/cmd/wallet -issuer http://127.0.0.1:8080 \
//	  -client-id app_… -key data/demo-app-key.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bankbridge/bankbridge/examples/wallet"
	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wallet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wallet", flag.ContinueOnError)
	issuer := fs.String("issuer", envOr("BANK_ISSUER", "http://127.0.0.1:8080"), "the bank's issuer URL (env BANK_ISSUER)")
	clientID := fs.String("client-id", os.Getenv("BANK_CLIENT_ID"), "the app's client_id (env BANK_CLIENT_ID)")
	keyFile := fs.String("key", envOr("BANK_KEY_FILE", "data/demo-app-key.json"), "the app's private JWK file (env BANK_KEY_FILE)")
	addr := fs.String("addr", "localhost:3000", "listen address")
	baseURL := fs.String("base-url", "", "the wallet's public URL (default http://<addr>); <base-url>/callback must be a redirect URI of the app")
	webhookSecret := fs.String("webhook-secret", os.Getenv("WALLET_WEBHOOK_SECRET"), "whsec_… or whpk_… key of a webhook endpoint pointing at <base-url>/webhooks (env WALLET_WEBHOOK_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *clientID == "" {
		return errors.New("-client-id is required (the demo app's is in the bankbridge start log: demo_client_id=…)")
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	bank, err := bankbridge.New(bankbridge.Config{Issuer: *issuer, ClientID: *clientID, PrivateJWK: key})
	if err != nil {
		return err
	}
	if *baseURL == "" {
		*baseURL = "http://" + *addr
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := wallet.Config{Bank: bank, BaseURL: *baseURL, Log: log}
	if *webhookSecret != "" {
		cfg.WebhookKeys = []string{*webhookSecret}
	}
	w, err := wallet.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: w, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	log.Info("wallet listening", "url", *baseURL, "bank", *issuer)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
