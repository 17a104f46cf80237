package apis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/mail"
)

// Customer payment notifications. A payment made through a partner that the
// core accepts (Pending → AcceptedSettlementInProcess) mails the customer,
// in the transaction that records that outcome: a payment whose outcome is
// not recorded (rolled back, or left Pending for a retry) mails nothing, a
// held one nothing until it is released and executed, and a rejected one
// nothing at all (it moved no money; the partner tells the customer). The
// mail names the partner as the consent page does, the amount, the payee
// (name and the last four characters of its account only) and when; a
// customer without an email address in the core gets no mail.

// PaymentMailTemplate names the customer's payment notice in the outbox.
const PaymentMailTemplate = "payment_executed"

// paymentNotice is the mail telling p's customer about p (as accepted at
// upd.StatusUpdatedAt), or nil when the customer has no email address. It is
// read before the outcome's transaction (the core may be remote); a failed
// lookup is logged and the payment recorded without a mail, since the
// outcome matters more than its notice.
func (s *Service) paymentNotice(ctx context.Context, p *Payment, upd *Payment) *mail.Message {
	cus, err := s.core.Customer(ctx, p.CustomerID)
	if errors.Is(err, core.ErrNotFound) {
		return nil
	}
	if err != nil {
		s.log.ErrorContext(ctx, "apis: payment notice: read customer", "payment_id", p.ID, "err", err)
		return nil
	}
	if cus.Email == "" {
		return nil
	}
	partner, err := s.store.PartnerName(ctx, p.PartnerID)
	if err != nil {
		s.log.ErrorContext(ctx, "apis: payment notice: read partner", "payment_id", p.ID, "err", err)
		return nil
	}
	amount := p.Amount.String()
	payee := plainText(p.Initiation.CreditorAccount.Name)
	if payee == "" {
		payee = "the payee"
	}
	when := upd.StatusUpdatedAt.UTC().Format("2 January 2006 at 15:04 UTC")
	var b strings.Builder
	fmt.Fprintf(&b, "Dear %s,\n\n", plainText(cus.DisplayName))
	fmt.Fprintf(&b, "%s made a payment from your account with the consent you gave it.\n\n", partner)
	fmt.Fprintf(&b, "  Amount:  %s\n", amount)
	fmt.Fprintf(&b, "  To:      %s (account %s)\n", payee, maskTail(p.Initiation.CreditorAccount.Identification))
	fmt.Fprintf(&b, "  When:    %s\n", when)
	fmt.Fprintf(&b, "  Payment: %s\n\n", p.ID)
	fmt.Fprintf(&b, "If you did not agree to this payment, contact the bank at once; you can withdraw %s's access in your dashboard.\n", partner)
	return &mail.Message{PartnerID: p.PartnerID, Recipient: cus.Email, Template: PaymentMailTemplate,
		Subject: fmt.Sprintf("Payment of %s through %s", amount, partner), Body: b.String()}
}

// plainText drops control characters (line breaks included) from text a
// partner supplied, so it cannot shape the mail.
func plainText(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
}
