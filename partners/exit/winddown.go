package exit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// errWait stops a wind-down until the next run (webhook deliveries still
// pending); it is not a failure.
var errWait = errors.New("exit: waiting for webhook deliveries")

// RunDue runs every wind-down whose effective date has come and that no
// node holds: each is claimed with a conditional update (status scheduled
// or running, lease free or expired), its remaining steps run in order,
// then the claim is released. Two nodes running it at once never run the
// same wind-down together. It returns the ids of the exits it worked on.
func (s *Service) RunDue(ctx context.Context) ([]string, error) {
	now := s.clock()
	var due []string
	if err := s.db.WithContext(ctx).Model(&Exit{}).Where("status IN ? AND effective_at <= ? AND (lease_until IS NULL OR lease_until < ?)",
		[]Status{StatusScheduled, StatusRunning}, now, now).Order("effective_at, id").Pluck("id", &due).Error; err != nil {
		return nil, internal(err, "list due terminations")
	}
	var worked []string
	var errs []error
	for _, id := range due {
		ok, err := s.claim(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		worked = append(worked, id)
		err = s.windDown(ctx, id)
		s.release(ctx, id)
		if err != nil && !errors.Is(err, errWait) {
			errs = append(errs, fmt.Errorf("termination %s: %w", id, err))
		}
	}
	return worked, errors.Join(errs...)
}

// claim takes the exit for this node: one conditional UPDATE, so of two
// nodes only one sees a row affected.
func (s *Service) claim(ctx context.Context, id string) (bool, error) {
	now := s.clock()
	res := s.db.WithContext(ctx).Exec(`UPDATE partner_exits SET claimed_by = ?, lease_until = ?, status = ?, updated_at = ?
		WHERE id = ? AND status IN (?, ?) AND effective_at <= ? AND (lease_until IS NULL OR lease_until < ?)`,
		s.cfg.Node, now.Add(s.cfg.Lease), StatusRunning, now, id, StatusScheduled, StatusRunning, now, now)
	if res.Error != nil {
		return false, internal(res.Error, "claim termination")
	}
	return res.RowsAffected == 1, nil
}

// release gives the claim up (a crash leaves it to expire).
func (s *Service) release(ctx context.Context, id string) {
	err := s.db.WithContext(context.WithoutCancel(ctx)).Exec(`UPDATE partner_exits SET lease_until = NULL WHERE id = ? AND claimed_by = ?`,
		id, s.cfg.Node).Error
	if err != nil {
		s.log.ErrorContext(ctx, "exit: release claim", "exit_id", id, "err", err)
	}
}

// stepFunc runs one step. Steps whose effects are outside the database
// (revocations, the core) are idempotent and recorded after; the others
// record the step in the transaction of their effects (record).
type stepFunc func(ctx context.Context, e *Exit, done map[string]StepRecord) error

func (s *Service) windDown(ctx context.Context, id string) error {
	steps := []struct {
		name string
		fn   stepFunc
	}{
		{StepPartnerTerminated, s.stepTerminate},
		{StepConsentsListed, s.stepListConsents},
		{StepAccessRevoked, s.stepRevoke},
		{StepCustomersMailed, s.stepMailCustomers},
		{StepWebhooksClosed, s.stepCloseWebhooks},
		{StepFinalSettlement, s.stepSettle},
		{StepDataExported, s.stepExport},
		{StepDeletionScheduled, s.stepScheduleDeletion},
		{StepEndpointsDisabled, s.stepDisableEndpoints},
	}
	for _, st := range steps {
		e, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		if e.ClaimedBy != s.cfg.Node {
			return nil // our lease expired and another node took over
		}
		done, err := s.doneSteps(ctx, id)
		if err != nil {
			return err
		}
		if _, ok := done[st.name]; ok {
			continue
		}
		if err := st.fn(ctx, e, done); err != nil {
			return fmt.Errorf("step %s: %w", st.name, err)
		}
	}
	return nil
}

func (s *Service) doneSteps(ctx context.Context, id string) (map[string]StepRecord, error) {
	recs, err := s.StepsDone(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make(map[string]StepRecord, len(recs))
	for _, r := range recs {
		out[r.Step] = r
	}
	return out, nil
}

// record writes a done step in tx (a step recorded twice fails the second
// transaction: its effects roll back with it).
func (s *Service) record(ctx context.Context, tx *gorm.DB, e *Exit, step string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	seq := slices.Index(Steps, step) + 1
	if err := tx.WithContext(ctx).Create(&StepRecord{ExitID: e.ID, Step: step, Seq: seq, DoneAt: s.clock(), Node: s.cfg.Node,
		Detail: string(b)}).Error; err != nil {
		return internal(err, "record step "+step)
	}
	return s.audit(ctx, tx, audit.ActorSystem, "exit", "partner_exit.step", e, map[string]any{"step": step, "detail": detail})
}

func (s *Service) recordAlone(ctx context.Context, e *Exit, step string, detail any) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error { return s.record(ctx, tx, e, step, detail) })
}

func (s *Service) stepTerminate(ctx context.Context, e *Exit, _ map[string]StepRecord) error {
	apps, err := s.cfg.Partners.TerminateScheduled(ctx, e.PartnerID, e.ID, "partnership ended: "+e.Reason)
	if err != nil {
		return err
	}
	return s.recordAlone(ctx, e, StepPartnerTerminated, map[string]any{"apps": apps})
}

// listedConsents is the detail of StepConsentsListed.
type listedConsents struct {
	Consents  []string `json:"consents"`
	Customers []string `json:"customers"`
}

func (s *Service) stepListConsents(ctx context.Context, e *Exit, _ map[string]StepRecord) error {
	open, err := s.cfg.Consents.OpenPartnerConsents(ctx, e.PartnerID)
	if err != nil {
		return err
	}
	l := listedConsents{Consents: []string{}, Customers: []string{}}
	for _, c := range open {
		l.Consents = append(l.Consents, c.ID)
		if c.CustomerID != "" && !slices.Contains(l.Customers, c.CustomerID) {
			l.Customers = append(l.Customers, c.CustomerID)
		}
	}
	slices.Sort(l.Customers)
	return s.recordAlone(ctx, e, StepConsentsListed, l)
}

func listed(done map[string]StepRecord) (listedConsents, error) {
	var l listedConsents
	err := json.Unmarshal([]byte(done[StepConsentsListed].Detail), &l)
	return l, err
}

func (s *Service) stepRevoke(ctx context.Context, e *Exit, done map[string]StepRecord) error {
	l, err := listed(done)
	if err != nil {
		return err
	}
	revoked := 0
	actor := apis.Actor{Type: audit.ActorSystem, ID: "exit:" + e.ID}
	for _, id := range l.Consents {
		ok, err := s.cfg.Consents.RevokeByBank(ctx, id, actor)
		if err != nil {
			return err
		}
		if ok {
			revoked++
		}
	}
	apps, err := s.revokeTokens(ctx, e)
	if err != nil {
		return err
	}
	return s.recordAlone(ctx, e, StepAccessRevoked, map[string]any{"consents_revoked": revoked, "consents_listed": len(l.Consents),
		"apps": apps})
}

// revokeTokens revokes every token of every app of the partner (on every
// node: oauth.Tokens invalidates through the cache bus).
func (s *Service) revokeTokens(ctx context.Context, e *Exit) ([]string, error) {
	apps, err := s.cfg.Partners.PartnerApps(ctx, e.PartnerID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(apps))
	for _, a := range apps {
		if err := s.cfg.Tokens.RevokeClient(ctx, a.ID); err != nil {
			return nil, fmt.Errorf("revoke tokens of %s: %w", a.ID, err)
		}
		ids = append(ids, a.ID)
	}
	return ids, nil
}

func (s *Service) stepMailCustomers(ctx context.Context, e *Exit, done map[string]StepRecord) error {
	l, err := listed(done)
	if err != nil {
		return err
	}
	name, err := s.partnerName(ctx, e.PartnerID)
	if err != nil {
		return err
	}
	var msgs []mail.Message
	for _, id := range l.Customers {
		c, err := s.cfg.Customers.Customer(ctx, id)
		if err != nil {
			return fmt.Errorf("customer %s: %w", id, err)
		}
		if c.Email == "" {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Dear %s,\n\n", plain(c.DisplayName))
		fmt.Fprintf(&b, "The bank's partnership with %s ended on %s.\n\n", name, day(e.EffectiveAt))
		fmt.Fprintf(&b, "Every consent you gave %s to see your accounts or to make payments from them has ended: %s can no longer reach your accounts through the bank, and payments you set up with it will not be made.\n\n", name, name)
		fmt.Fprintf(&b, "Payments already made are not affected. You do not need to do anything; if you want to go on using such a service, you can give a new consent to another provider.\n")
		msgs = append(msgs, mail.Message{PartnerID: e.PartnerID, Recipient: c.Email, Template: MailCustomer,
			Subject: fmt.Sprintf("Your consents to %s have ended", name), Body: b.String()})
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := s.record(ctx, tx, e, StepCustomersMailed, map[string]any{"customers": len(l.Customers), "mailed": len(msgs)}); err != nil {
			return err
		}
		for _, m := range msgs {
			if _, err := mail.Enqueue(ctx, tx, m); err != nil {
				return internal(err, "mail customer")
			}
		}
		return nil
	})
}

// plain drops control characters from a name shown in a mail.
func plain(v string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v))
}

func (s *Service) drained(ctx context.Context, e *Exit, bound time.Duration) (bool, int64, error) {
	n, err := s.cfg.Webhooks.PartnerPendingDeliveries(ctx, e.PartnerID)
	if err != nil {
		return false, 0, err
	}
	return n == 0 || !s.clock().Before(e.EffectiveAt.Add(bound)), n, nil
}

func (s *Service) stepCloseWebhooks(ctx context.Context, e *Exit, done map[string]StepRecord) error {
	ok, pending, err := s.drained(ctx, e, s.cfg.WebhookDrain)
	if err != nil {
		return err
	}
	if !ok {
		return errWait
	}
	var revoked any
	if r, ok := done[StepAccessRevoked]; ok {
		var d map[string]any
		if json.Unmarshal([]byte(r.Detail), &d) == nil {
			revoked = d["consents_revoked"]
		}
	}
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := s.record(ctx, tx, e, StepWebhooksClosed, map[string]any{"pending_before": pending}); err != nil {
			return err
		}
		if err := s.cfg.Publisher.Publish(ctx, tx, EventTerminated, e.PartnerID, "", map[string]any{
			"termination_id": e.ID, "effective_at": e.EffectiveAt.UTC().Format(time.RFC3339), "consents_revoked": revoked}); err != nil {
			return internal(err, "publish "+EventTerminated)
		}
		return internal(s.cfg.Webhooks.ClosePartner(ctx, tx, e.PartnerID, "partnership ended ("+e.ID+")"), "close outbox")
	})
	if err == nil {
		s.cfg.Webhooks.AfterClose(ctx, e.PartnerID) // no node's cached endpoints outlive the closure
	}
	return err
}

func (s *Service) stepSettle(ctx context.Context, e *Exit, _ map[string]StepRecord) error {
	st, ok, err := s.cfg.Contracts.SettleFinal(ctx, e.PartnerID, e.EffectiveAt, "partnership ended ("+e.ID+")")
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := s.record(ctx, tx, e, StepFinalSettlement, map[string]any{"statement_id": st.ID, "period": st.Period,
			"settled": ok}); err != nil {
			return err
		}
		return internal(tx.Model(&Exit{}).Where("id = ?", e.ID).Update("statement_id", st.ID).Error, "record statement")
	})
}

func (s *Service) stepScheduleDeletion(ctx context.Context, e *Exit, _ map[string]StepRecord) error {
	at := e.Timeline().PersonalDataDeletionAt
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := s.record(ctx, tx, e, StepDeletionScheduled, map[string]any{"delete_after": at, "retention_days": e.RetentionDays}); err != nil {
			return err
		}
		return internal(tx.Model(&Exit{}).Where("id = ?", e.ID).Update("delete_after", at).Error, "schedule deletion")
	})
}

func (s *Service) stepDisableEndpoints(ctx context.Context, e *Exit, _ map[string]StepRecord) error {
	ok, pending, err := s.drained(ctx, e, 2*s.cfg.WebhookDrain)
	if err != nil {
		return err
	}
	if !ok {
		return errWait
	}
	n, err := s.cfg.Webhooks.DisablePartnerEndpoints(ctx, e.PartnerID, "partnership ended")
	if err != nil {
		return err
	}
	// A second sweep: a node whose client cache still held an app as active
	// (partners' per-node TTL) may have issued a token after the first one.
	apps, err := s.revokeTokens(ctx, e)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := s.record(ctx, tx, e, StepEndpointsDisabled, map[string]any{"endpoints_disabled": n, "pending_cancelled": pending,
			"apps_swept": len(apps)}); err != nil {
			return err
		}
		now := s.clock()
		res := tx.Model(&Exit{}).Where("id = ? AND status = ?", e.ID, StatusRunning).
			Updates(map[string]any{"status": StatusCompleted, "completed_at": now, "updated_at": now})
		if res.Error != nil {
			return internal(res.Error, "complete termination")
		}
		return s.audit(ctx, tx, audit.ActorSystem, "exit", "partner_exit.completed", e, map[string]any{"completed_at": now})
	})
}

// PurgeDue erases the personal data of every completed termination whose
// retention period is over (delete_after passed, not erased yet): each is
// claimed as RunDue claims, then partners erases its people's data, apis
// its customers' links, the export archive is deleted, and the step
// recorded with deleted_at. Returns the exits erased.
func (s *Service) PurgeDue(ctx context.Context) ([]string, error) {
	now := s.clock()
	var due []string
	if err := s.db.WithContext(ctx).Model(&Exit{}).Where("status = ? AND delete_after <= ? AND deleted_at IS NULL AND (lease_until IS NULL OR lease_until < ?)",
		StatusCompleted, now, now).Order("delete_after, id").Pluck("id", &due).Error; err != nil {
		return nil, internal(err, "list erasures due")
	}
	var out []string
	var errs []error
	for _, id := range due {
		res := s.db.WithContext(ctx).Exec(`UPDATE partner_exits SET claimed_by = ?, lease_until = ?, updated_at = ?
			WHERE id = ? AND status = ? AND deleted_at IS NULL AND (lease_until IS NULL OR lease_until < ?)`,
			s.cfg.Node, now.Add(s.cfg.Lease), now, id, StatusCompleted, now)
		if res.Error != nil {
			errs = append(errs, res.Error)
			continue
		}
		if res.RowsAffected != 1 {
			continue
		}
		err := s.erase(ctx, id)
		s.release(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("termination %s: %w", id, err))
			continue
		}
		out = append(out, id)
	}
	return out, errors.Join(errs...)
}

func (s *Service) erase(ctx context.Context, id string) error {
	e, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	people, err := s.cfg.Partners.ErasePersonalData(ctx, e.PartnerID, e.ID)
	if err != nil {
		return err
	}
	customers, err := s.cfg.Erasure.ErasePartnerPersonalData(ctx, e.PartnerID)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := s.record(ctx, tx, e, StepPersonalDataErased, map[string]any{"partner": people, "customers": customers}); err != nil {
			return err
		}
		if err := tx.Where("exit_id = ?", e.ID).Delete(&exportRow{}).Error; err != nil {
			return internal(err, "delete export")
		}
		res := tx.Model(&Exit{}).Where("id = ? AND deleted_at IS NULL", e.ID).Updates(map[string]any{"deleted_at": s.clock(), "updated_at": s.clock()})
		if res.Error != nil {
			return internal(res.Error, "record erasure")
		}
		if res.RowsAffected != 1 {
			return problem.New(problem.CodeConflict, "termination %s was erased concurrently", e.ID)
		}
		return nil
	})
}
