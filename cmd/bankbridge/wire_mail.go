package main

import (
	"context"
	"fmt"

	"github.com/bankbridge/bankbridge/internal/mail"
)

// wireMail starts this node's mail sender when SMTP is configured (always in
// production, where serve refuses to start without it). In development
// without SMTP nothing is sent: the outbox page is the delivery.
func (p *Platform) wireMail(context.Context) error {
	if p.Config.SMTPURL == "" {
		if p.Config.Mode.Development() {
			p.Log.Info("mail is not sent (no --smtp-url): read it at " + p.Issuer + "/portal/dev/outbox (loopback clients only)")
		}
		return nil
	}
	s, err := mail.NewSender(mail.SenderConfig{DB: p.DB, SMTP: p.Config.SMTP, From: p.Config.mailFrom(p.Issuer), Logger: p.Log})
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	p.bg = append(p.bg, func(ctx context.Context) {
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("mail sender stopped", "err", err)
		}
	})
	return nil
}
