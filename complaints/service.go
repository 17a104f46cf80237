package complaints

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Payment is a payment made through a partner as complaints sees it (the
// apis payment with the partner's and app's names).
type Payment struct {
	ID          string
	ConsentID   string
	PartnerID   string
	PartnerName string
	ClientID    string
	AppName     string
	Environment environment.Environment
	CustomerID  string
	Amount      money.Money
	// Payee is how the payment named its payee ("Name (Scheme:Id)").
	Payee     string
	Status    string
	CreatedAt time.Time
}

// ErrPaymentNotFound is Payments.Payment's answer for an unknown payment.
var ErrPaymentNotFound = errors.New("complaints: payment not found")

// Payments reads the payments made through partners (adapter over apis in
// cmd/bankbridge).
type Payments interface {
	// Payment returns one payment, or ErrPaymentNotFound.
	Payment(ctx context.Context, id string) (*Payment, error)
	// CustomerPayments lists the customer's payments, newest first.
	CustomerPayments(ctx context.Context, customerID string) ([]Payment, error)
}

// Customers tells the customer's email address (the bank's core).
type Customers interface {
	Email(ctx context.Context, customerID string) (string, error)
}

// Staff authorises a staff member for an action in the caller's
// transaction (staff.Service).
type Staff interface {
	Require(tx *gorm.DB, staffID string, action staff.Action) (*staff.Member, error)
}

// Partners is what complaints need of the partners domain (partners.Service).
type Partners interface {
	Partner(ctx context.Context, partnerID string) (*partners.Partner, error)
	PartnerForMember(ctx context.Context, userID, partnerID string) (*partners.Partner, partners.Role, error)
}

// Config is what a Service needs; Store, Payments, Customers, Staff,
// Partners and Publisher are required.
type Config struct {
	Store     Store
	Payments  Payments
	Customers Customers
	Staff     Staff
	Partners  Partners
	Publisher events.Publisher
	// PortalURL is the partner portal's base URL for the partner's mail
	// ("https://bank.example/portal"); "" leaves the link out.
	PortalURL string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Service handles complaints. Every state change is audited in its
// transaction, with its mails and webhooks.
type Service struct {
	store     Store
	payments  Payments
	customers Customers
	staff     Staff
	partners  Partners
	events    events.Publisher
	portalURL string
	now       func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Payments == nil || cfg.Customers == nil || cfg.Staff == nil || cfg.Partners == nil || cfg.Publisher == nil {
		return nil, errors.New("complaints: Config.Store, Payments, Customers, Staff, Partners and Publisher are required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: cfg.Store, payments: cfg.Payments, customers: cfg.Customers, staff: cfg.Staff,
		partners: cfg.Partners, events: cfg.Publisher, portalURL: strings.TrimRight(cfg.PortalURL, "/"),
		now: func() time.Time { return now().UTC() }}, nil
}

// Now is the service's clock (pages show deadlines against it).
func (s *Service) Now() time.Time { return s.now() }

func internal(err error, what string) error { return problem.Internal(err, what) }

func notFound(id string) *problem.Error {
	return problem.New(problem.CodeNotFound, "complaint %s not found", id)
}

func paymentNotFound(id string) *problem.Error {
	return problem.New(problem.CodeNotFound, "payment %s not found", id)
}

func resolvedAlready(id string) *problem.Error {
	return problem.New(problem.CodeInvalidState, "complaint %s is resolved already", id)
}

func (s *Service) load(ctx context.Context, id string) (*Complaint, error) {
	c, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound(id)
	}
	return c, internal(err, "load complaint")
}

func (s *Service) audit(ctx context.Context, actorType, actorID, action string, c *Complaint, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	details["payment_id"] = c.PaymentID
	return internal(s.store.Audit(ctx, audit.Entry{ActorType: actorType, ActorID: actorID, Action: action,
		ObjectType: "complaint", ObjectID: c.ID, PartnerID: c.PartnerID, Details: details}), "audit")
}

// CustomerPayment is one of the customer's payments with its latest
// complaint (nil: none).
type CustomerPayment struct {
	Payment
	Complaint *Complaint
}

// CustomerPayments lists the customer's payments made through partners,
// newest first, each with its latest complaint.
func (s *Service) CustomerPayments(ctx context.Context, customerID string) ([]CustomerPayment, error) {
	ps, err := s.payments.CustomerPayments(ctx, customerID)
	if err != nil {
		return nil, internal(err, "customer payments")
	}
	cs, err := s.store.ForCustomer(ctx, customerID)
	if err != nil {
		return nil, internal(err, "customer complaints")
	}
	latest := map[string]*Complaint{}
	for i := range cs {
		if _, ok := latest[cs[i].PaymentID]; !ok {
			latest[cs[i].PaymentID] = &cs[i]
		}
	}
	out := make([]CustomerPayment, 0, len(ps))
	for _, p := range ps {
		out = append(out, CustomerPayment{Payment: p, Complaint: latest[p.ID]})
	}
	return out, nil
}

// CustomerPayment returns one of the customer's payments; another
// customer's (or an unknown) payment is CodeNotFound "payment <id> not found".
func (s *Service) CustomerPayment(ctx context.Context, customerID, paymentID string) (*Payment, error) {
	p, err := s.payments.Payment(ctx, paymentID)
	if errors.Is(err, ErrPaymentNotFound) || (err == nil && p.CustomerID != customerID) {
		return nil, paymentNotFound(paymentID)
	}
	if err != nil {
		return nil, internal(err, "load payment")
	}
	return p, nil
}

// Open records the customer's complaint about one of its payments, tells
// the partner (webhook complaint.opened, a mail to its owners) and mails
// the customer a receipt with the reply deadline. Errors: CodeNotFound
// (another customer's or an unknown payment), CodeValidation (category,
// description), CodeConflict "this payment already has an open complaint".
func (s *Service) Open(ctx context.Context, customerID, paymentID string, category Category, description string) (*Complaint, error) {
	c := &Complaint{Category: category, Description: strings.TrimSpace(description)}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p, err := s.CustomerPayment(ctx, customerID, paymentID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	c.ID, c.PaymentID, c.ConsentID, c.PartnerID, c.ClientID = ids.New("cmp"), p.ID, p.ConsentID, p.PartnerID, p.ClientID
	c.Environment, c.CustomerID, c.Amount, c.Payee, c.Status = p.Environment, customerID, p.Amount, p.Payee, StatusOpen
	c.ReceivedAt, c.DueAt, c.PartnerDueAt = now, AddBusinessDays(now, ReplyBusinessDays), AddBusinessDays(now, PartnerBusinessDays)
	email, err := s.customers.Email(ctx, customerID)
	if err != nil {
		return nil, internal(err, "customer email")
	}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.Create(ctx, c); err != nil {
			if errors.Is(err, ErrOpenExists) {
				return problem.New(problem.CodeConflict, "this payment already has an open complaint")
			}
			return internal(err, "create complaint")
		}
		if err := s.audit(ctx, audit.ActorCustomer, customerID, "complaint.opened", c, map[string]any{"category": string(c.Category)}); err != nil {
			return err
		}
		tx := s.store.Handle(ctx)
		if err := s.events.Publish(ctx, tx, "complaint.opened", c.PartnerID, c.ClientID, s.eventData(c)); err != nil {
			return internal(err, "publish complaint.opened")
		}
		if _, err := mail.EnqueueToPartnerOwners(ctx, tx, s.partnerMail(c)); err != nil {
			return internal(err, "mail partner owners")
		}
		if email != "" {
			if _, err := mail.Enqueue(ctx, tx, s.receiptMail(c, p, email)); err != nil {
				return internal(err, "mail customer")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// eventData is the webhooks' data of c: ids, category, deadlines; never the
// customer's identity.
func (s *Service) eventData(c *Complaint) map[string]any {
	d := map[string]any{"complaint_id": c.ID, "payment_id": c.PaymentID, "consent_id": c.ConsentID, "app_id": c.ClientID,
		"category": string(c.Category), "status": string(c.Status), "received_at": c.ReceivedAt, "due_at": c.DueAt,
		"partner_due_at": c.PartnerDueAt}
	if !c.Open() {
		d["outcome"], d["resolved_at"] = string(c.Outcome), c.ResolvedAt
		if c.Outcome == OutcomeRefund {
			d["correction_id"], d["refund_amount"], d["refund_currency"] = c.CorrectionID, fmt.Sprint(c.Refund.Minor), c.Refund.Currency
		}
	}
	return d
}

func date(t time.Time) string { return t.UTC().Format("2 January 2006") }

func (s *Service) partnerMail(c *Complaint) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "A customer complained about payment %s (consent %s, %s).\n\n", c.PaymentID, c.ConsentID, c.Environment)
	fmt.Fprintf(&b, "Complaint: %s\nWhat is wrong: %s\nAmount: %s\nReceived: %s\n", c.ID, c.Category.Label(), c.Amount, date(c.ReceivedAt))
	fmt.Fprintf(&b, "Please answer by %s (%d business days).\n", date(c.PartnerDueAt), PartnerBusinessDays)
	if s.portalURL != "" {
		fmt.Fprintf(&b, "\nAnswer in the portal: %s/orgs/%s/complaints/%s\n", s.portalURL, c.PartnerID, c.ID)
	}
	return mail.Message{PartnerID: c.PartnerID, Template: "complaint_opened",
		Subject: "Complaint " + c.ID + " about payment " + c.PaymentID, Body: b.String()}
}

func (s *Service) receiptMail(c *Complaint, p *Payment, email string) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "We received your complaint about the payment of %s to %s made through %s on %s.\n\n",
		c.Amount, c.Payee, p.PartnerName, date(p.CreatedAt))
	fmt.Fprintf(&b, "Your reference: %s\nWhat is wrong: %s\n\nWe will reply by %s at the latest.\n", c.ID, c.Category.Label(), date(c.DueAt))
	return mail.Message{Recipient: email, Template: "complaint_received", Subject: "We received your complaint " + c.ID, Body: b.String()}
}

// List returns the complaints matching f for the console, the soonest due
// first.
func (s *Service) List(ctx context.Context, f Filter) ([]Complaint, error) {
	out, err := s.store.List(ctx, f)
	return out, internal(err, "list complaints")
}

// Get returns one complaint (the console). Errors: CodeNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Complaint, error) { return s.load(ctx, id) }

// Notes lists the staff's notes on a complaint, oldest first.
func (s *Service) Notes(ctx context.Context, id string) ([]Note, error) {
	out, err := s.store.Notes(ctx, id)
	return out, internal(err, "complaint notes")
}

// Timeline lists the complaint's audit events, oldest first.
func (s *Service) Timeline(ctx context.Context, id string) ([]audit.Event, error) {
	out, err := s.store.AuditTrail(ctx, id)
	return out, internal(err, "complaint timeline")
}

// staffChange runs change on the open complaint id for a staff member with
// complaints.handle, in one transaction, and audits it as action.
func (s *Service) staffChange(ctx context.Context, staffID, id, action string, change func(ctx context.Context, c *Complaint) (map[string]any, error)) (*Complaint, error) {
	var c *Complaint
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.staff.Require(s.store.Handle(ctx), staffID, staff.ActComplaintsHandle); err != nil {
			return err
		}
		var err error
		if c, err = s.load(ctx, id); err != nil {
			return err
		}
		if !c.Open() {
			return resolvedAlready(id)
		}
		details, err := change(ctx, c)
		if err != nil {
			return err
		}
		return s.audit(ctx, audit.ActorStaff, staffID, action, c, details)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Assign makes staffID the complaint's handler. Errors: CodeForbidden
// (role), CodeNotFound, CodeInvalidState (resolved).
func (s *Service) Assign(ctx context.Context, staffID, id string) (*Complaint, error) {
	return s.staffChange(ctx, staffID, id, "complaint.assigned", func(ctx context.Context, c *Complaint) (map[string]any, error) {
		from := c.AssignedTo
		c.AssignedTo = staffID
		if err := s.store.Update(ctx, c, StatusOpen, false); err != nil {
			return nil, s.updateErr(err, id)
		}
		return map[string]any{"from": from, "to": staffID}, nil
	})
}

func (s *Service) updateErr(err error, id string) error {
	if errors.Is(err, ErrStale) {
		return resolvedAlready(id)
	}
	return internal(err, "update complaint")
}

func text(v, what string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", problem.New(problem.CodeValidation, "%s", what)
	}
	if utf8.RuneCountInString(v) > MaxText {
		return "", problem.New(problem.CodeValidation, "the text is longer than %d characters", MaxText)
	}
	return v, nil
}

// AddNote records a staff member's note on an open complaint. Errors:
// CodeValidation "write a note", CodeForbidden, CodeNotFound,
// CodeInvalidState.
func (s *Service) AddNote(ctx context.Context, staffID, id, body string) (*Note, error) {
	body, err := text(body, "write a note")
	if err != nil {
		return nil, err
	}
	n := &Note{ComplaintID: id, StaffID: staffID, Body: body, CreatedAt: s.now()}
	_, err = s.staffChange(ctx, staffID, id, "complaint.noted", func(ctx context.Context, c *Complaint) (map[string]any, error) {
		return nil, internal(s.store.AddNote(ctx, n), "add note")
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Reject resolves an open complaint as rejected with reasons: the customer
// is mailed the outcome and the reasons, the partner gets
// complaint.resolved. Errors: CodeValidation "give the reasons for
// rejecting the complaint", CodeForbidden, CodeNotFound, CodeInvalidState.
func (s *Service) Reject(ctx context.Context, staffID, id, reasons string) (*Complaint, error) {
	reasons, err := text(reasons, "give the reasons for rejecting the complaint")
	if err != nil {
		return nil, err
	}
	return s.staffChange(ctx, staffID, id, "complaint.resolved", func(ctx context.Context, c *Complaint) (map[string]any, error) {
		c.Status, c.Outcome, c.Reasons, c.DecidedBy, c.ResolvedAt = StatusResolved, OutcomeRejected, reasons, staffID, s.now()
		if err := s.resolve(ctx, c); err != nil {
			return nil, err
		}
		return map[string]any{"outcome": string(OutcomeRejected), "reasons": reasons}, nil
	})
}

// resolve writes the resolved complaint c (from open), mails the customer
// its outcome and publishes complaint.resolved, in the transaction in ctx.
func (s *Service) resolve(ctx context.Context, c *Complaint) error {
	if err := s.store.Update(ctx, c, StatusOpen, false); err != nil {
		return s.updateErr(err, c.ID)
	}
	tx := s.store.Handle(ctx)
	if err := s.events.Publish(ctx, tx, "complaint.resolved", c.PartnerID, c.ClientID, s.eventData(c)); err != nil {
		return internal(err, "publish complaint.resolved")
	}
	email, err := s.customers.Email(ctx, c.CustomerID)
	if err != nil {
		return internal(err, "customer email")
	}
	if email == "" {
		return nil
	}
	partnerName := c.PartnerID
	if p, err := s.partners.Partner(ctx, c.PartnerID); err == nil {
		partnerName = p.Name()
	}
	_, err = mail.Enqueue(ctx, tx, OutcomeMail(c, partnerName, email))
	return internal(err, "mail customer")
}

// OutcomeMail is the mail that tells the customer the outcome of c.
func OutcomeMail(c *Complaint, partnerName, email string) mail.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "We looked into your complaint %s about the payment of %s to %s made through %s.\n\n",
		c.ID, c.Amount, c.Payee, partnerName)
	switch c.Outcome {
	case OutcomeRefund:
		fmt.Fprintf(&b, "We uphold your complaint and refunded %s to your account (correction %s).\n", c.Refund, c.CorrectionID)
	default:
		fmt.Fprintf(&b, "We do not uphold your complaint, for these reasons:\n\n%s\n\n", c.Reasons)
		b.WriteString("If you disagree, you may refer your complaint to the Financial Ombudsman Service within six months of this mail.\n")
	}
	return mail.Message{Recipient: email, Template: "complaint_outcome", Subject: "Your complaint " + c.ID + ": our decision", Body: b.String()}
}

// PartnerComplaints lists the partner's complaints, the soonest due first.
func (s *Service) PartnerComplaints(ctx context.Context, partnerID string) ([]Complaint, error) {
	return s.List(ctx, Filter{PartnerID: partnerID})
}

// PartnerComplaint returns one of the partner's complaints; another
// partner's is CodeNotFound.
func (s *Service) PartnerComplaint(ctx context.Context, partnerID, id string) (*Complaint, error) {
	c, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.PartnerID != partnerID {
		return nil, notFound(id)
	}
	return c, nil
}

// Answer records the partner's answer (once) to one of its complaints.
// Errors: CodeNotFound (not a member, another partner's complaint),
// CodeForbidden (role), CodeValidation "write an answer", CodeConflict
// "complaint <id> was answered already", CodeInvalidState (resolved).
func (s *Service) Answer(ctx context.Context, userID, partnerID, id, answer string, agreeRefund bool) (*Complaint, error) {
	answer, err := text(answer, "write an answer")
	if err != nil {
		return nil, err
	}
	_, role, err := s.partners.PartnerForMember(ctx, userID, partnerID)
	if err != nil {
		return nil, err
	}
	if !partners.Can(role, partners.ActComplaintsAnswer) {
		return nil, problem.New(problem.CodeForbidden, "role %q may not %s", role, partners.ActComplaintsAnswer)
	}
	var c *Complaint
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.PartnerComplaint(ctx, partnerID, id); err != nil {
			return err
		}
		switch {
		case c.Answered():
			return problem.New(problem.CodeConflict, "complaint %s was answered already", id)
		case !c.Open():
			return resolvedAlready(id)
		}
		c.PartnerAnswer, c.PartnerAgreesRefund, c.PartnerAnsweredBy, c.PartnerAnsweredAt = answer, agreeRefund, userID, s.now()
		if err := s.store.Update(ctx, c, StatusOpen, true); err != nil {
			if errors.Is(err, ErrStale) {
				return problem.New(problem.CodeConflict, "complaint %s was answered already", id)
			}
			return internal(err, "answer complaint")
		}
		return s.audit(ctx, audit.ActorPartner, userID, "complaint.answered", c, map[string]any{"agrees_refund": agreeRefund})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CheckRefund returns nil when complaintID is an open complaint about
// paymentID (else a problem error): CodeNotFound "complaint <id> not
// found", CodeInvalidState "complaint <id> is resolved already",
// CodeValidation "complaint <id> is about payment <p>, not <q>".
func (s *Service) CheckRefund(ctx context.Context, complaintID, paymentID string) error {
	c, err := s.load(ctx, complaintID)
	if err != nil {
		return err
	}
	return checkRefund(c, paymentID)
}

func checkRefund(c *Complaint, paymentID string) error {
	if !c.Open() {
		return resolvedAlready(c.ID)
	}
	if c.PaymentID != paymentID {
		return problem.New(problem.CodeValidation, "complaint %s is about payment %s, not %s", c.ID, c.PaymentID, paymentID)
	}
	return nil
}

// Refunded records, in tx, that the correction resolved the complaint
// (status resolved, outcome refund, the correction id and amount), audits
// it, mails the customer the outcome and publishes the webhook. Errors:
// those of CheckRefund, CodeValidation "a correction id is required",
// "the refund must be a positive amount in <currency>".
func (s *Service) Refunded(ctx context.Context, tx *gorm.DB, complaintID, correctionID string, amount money.Money) error {
	if strings.TrimSpace(correctionID) == "" {
		return problem.New(problem.CodeValidation, "a correction id is required")
	}
	ctx = s.store.Join(ctx, tx)
	c, err := s.load(ctx, complaintID)
	if err != nil {
		return err
	}
	if err := checkRefund(c, c.PaymentID); err != nil {
		return err
	}
	if amount.Minor <= 0 || amount.Currency != c.Amount.Currency {
		return problem.New(problem.CodeValidation, "the refund must be a positive amount in %s", c.Amount.Currency)
	}
	c.Status, c.Outcome, c.CorrectionID, c.Refund, c.DecidedBy, c.ResolvedAt = StatusResolved, OutcomeRefund, correctionID, amount, "correction", s.now()
	if err := s.resolve(ctx, c); err != nil {
		return err
	}
	return s.audit(ctx, audit.ActorSystem, "corrections", "complaint.resolved", c, map[string]any{"outcome": string(OutcomeRefund),
		"correction_id": correctionID, "amount": amount.Minor, "currency": amount.Currency})
}

// CountReceived counts the partner's complaints received in [from, to)
// (the performance review's scorecard).
func (s *Service) CountReceived(ctx context.Context, partnerID string, from, to time.Time) (int64, error) {
	n, err := s.store.CountReceived(ctx, partnerID, from, to)
	return n, internal(err, "count complaints")
}

// UpheldOrUnauthorisedByPartner counts per partner the complaints received
// at or after since about unauthorised payments or upheld with a refund
// (the risk rating's complaints signal).
func (s *Service) UpheldOrUnauthorisedByPartner(ctx context.Context, since time.Time) (map[string]int64, error) {
	m, err := s.store.UpheldOrUnauthorisedByPartner(ctx, since)
	return m, internal(err, "count complaints by partner")
}

// MaskedCustomer is the customer's email as staff see it on a complaint
// (MaskEmail), "" when unknown.
func (s *Service) MaskedCustomer(ctx context.Context, customerID string) string {
	email, err := s.customers.Email(ctx, customerID)
	if err != nil {
		return ""
	}
	return MaskEmail(email)
}
