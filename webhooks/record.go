// Recording: the outcomes of a dispatcher's attempts are written in batches,
// one transaction for as many as have arrived at once.

package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/internal/db"
)

// maxRecordBatch bounds the outcomes written in one transaction.
const maxRecordBatch = 256

// recordLinger is how long the recorder waits for more outcomes before it
// writes a batch.
const recordLinger = 2 * time.Millisecond

// recorder writes the outcomes sent on results, as many as have arrived at
// once in one transaction, until results is closed and drained.
func (d *Dispatcher) recorder(results <-chan result) {
	batch := make([]result, 0, maxRecordBatch)
	linger := time.NewTimer(0)
	<-linger.C
	for r := range results {
		batch = append(batch[:0], r)
		// Gather what is ready, then wait up to recordLinger for more: the
		// delay is only the record's (the receipt has happened), and a
		// larger batch costs hardly more than one row.
		linger.Reset(recordLinger)
		lingering := true
	more:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			case <-linger.C:
				lingering = false
				break more
			}
		}
		if lingering && !linger.Stop() {
			<-linger.C
		}
		d.recordBatch(batch)
	}
}

// planned is the effect of one attempt: the delivery's new state, its log
// row and, when the endpoint's state changes, that change.
type planned struct {
	r             *result
	status        string
	next          *time.Time // pending again: when
	delivered     bool
	lastError     string
	att           attemptRow
	epUpd         map[string]any
	disableReason string
}

// plan works out what one attempt does to its delivery and endpoint.
func (d *Dispatcher) plan(r *result, now time.Time) planned {
	s := d.s
	dl, ep, o := &r.c.dl, r.c.ep, r.o
	n := dl.Attempts + 1
	p := planned{r: r, lastError: truncate(o.err, 500)}
	p.att = attemptRow{DeliveryID: dl.ID, EndpointID: dl.EndpointID, EventID: dl.EventID, EventType: r.c.ev.Type,
		PartnerID: dl.PartnerID, Attempt: n, At: r.at, StatusCode: o.status, LatencyMS: o.latency.Milliseconds(),
		ResponseExcerpt: o.excerpt, Error: o.err, Dispatcher: d.o.ID}
	switch {
	case o.ok():
		p.status, p.delivered = StatusSucceeded, true
		if ep.FailingSince != nil {
			p.epUpd = map[string]any{"failing_since": nil}
		}
	case o.status == http.StatusGone:
		p.status = StatusCancelled
		p.lastError = "endpoint answered 410 Gone: endpoint disabled"
		p.disableReason = "the endpoint answered 410 Gone"
	default:
		since := now
		if ep.FailingSince != nil {
			since = *ep.FailingSince
		} else {
			p.epUpd = map[string]any{"failing_since": now}
		}
		if n >= len(s.cfg.Schedule) {
			p.status = StatusDead
		} else {
			next := now.Add(s.delay(n))
			if ra := now.Add(o.retryAfter); ra.After(next) {
				next = ra
			}
			p.status, p.next = StatusPending, &next
			p.att.NextRetryAt = &next
		}
		if now.Sub(since) >= s.cfg.DisableAfter {
			p.disableReason = fmt.Sprintf("deliveries failed continuously since %s", since.Format(time.RFC3339))
		}
	}
	if p.disableReason != "" {
		p.epUpd = map[string]any{"enabled": false, "disabled_reason": p.disableReason, "updated_at": now}
	}
	return p
}

// recordBatch stores a batch of outcomes in one transaction, each fenced on
// its claim: a delivery whose lease was lost meanwhile is left alone (its
// new claimer records it). The attempts move their deliveries on with one
// UPDATE … RETURNING and are logged with one multi-row INSERT; endpoint
// changes (a failure run starting or ending, a disable) follow in order.
// If the transaction fails, every claim of the batch is released.
func (d *Dispatcher) recordBatch(batch []result) {
	s := d.s
	now := s.now()
	var plans []planned
	var finishes []*result
	for i := range batch {
		switch r := &batch[i]; r.kind {
		case resultAttempt:
			plans = append(plans, d.plan(r, now))
		case resultFinish:
			finishes = append(finishes, r)
		case resultRelease:
			d.release(r.c.token, r.c.dl.ID)
		}
	}
	if len(plans) == 0 && len(finishes) == 0 {
		return
	}
	var disabled []string // partners of the endpoints disabled, for the endpoint cache
	err := s.tx(context.Background(), func(tx *gorm.DB) error {
		disabled = disabled[:0]
		for _, r := range finishes {
			if err := tx.Model(&deliveryRow{}).Where("id = ? AND claimed_by = ? AND status = ?", r.c.dl.ID, r.c.token, StatusPending).
				Updates(map[string]any{"status": StatusCancelled, "last_error": r.reason, "claimed_by": "", "lease_until": nil, "updated_at": now}).Error; err != nil {
				return err
			}
		}
		if len(plans) == 0 {
			return nil
		}
		ok, err := updateDeliveries(tx, s.db.Dialect, plans, now)
		if err != nil {
			return err
		}
		atts := make([]attemptRow, 0, len(plans))
		for i := range plans {
			if ok[plans[i].r.c.dl.ID] {
				atts = append(atts, plans[i].att)
			}
		}
		if len(atts) == 0 {
			return nil
		}
		ins := tx
		if s.db.Dialect == db.SQLite {
			ins = tx.Clauses(clause.Insert{Modifier: "OR FAIL"}) // see updateDeliveries
		}
		if err := ins.Create(&atts).Error; err != nil {
			return err
		}
		for i := range plans {
			p := &plans[i]
			if p.epUpd == nil || !ok[p.r.c.dl.ID] {
				continue
			}
			q := tx.Model(&endpointRow{}).Where("id = ?", p.r.c.ep.ID)
			switch {
			case p.disableReason != "":
				q = q.Where("enabled = ?", true)
			case !p.r.o.ok():
				q = q.Where("failing_since IS NULL") // a concurrent attempt may have started the run
			}
			res := q.Updates(p.epUpd)
			if res.Error != nil {
				return res.Error
			}
			if p.disableReason != "" && res.RowsAffected == 1 {
				disabled = append(disabled, p.r.c.ep.PartnerID)
				if err := s.notifyDisabled(tx, p.r.c.ep, p.disableReason, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("webhooks: recording attempts failed", "deliveries", len(plans)+len(finishes), "err", err)
		for _, p := range plans {
			d.release(p.r.c.token, p.r.c.dl.ID)
		}
		for _, r := range finishes {
			d.release(r.c.token, r.c.dl.ID)
		}
		return
	}
	for _, partnerID := range disabled {
		s.endpointsChanged(context.Background(), partnerID)
	}
	for _, p := range plans {
		if p.status == StatusDead {
			s.log.Warn("webhooks: delivery dead-lettered", "delivery", p.r.c.dl.ID, "endpoint", p.r.c.ep.ID, "event", p.r.c.ev.ID)
		}
	}
}

// updateDeliveries moves every planned delivery on with one UPDATE whose
// CASE expressions carry each row's values, fenced on each row's claim
// token, and returns the ids it updated. (Each CASE has an ELSE naming its
// column, so PostgreSQL types the parameters from the column.)
//
// On SQLite the statement is UPDATE OR FAIL (and the attempts' INSERT
// INSERT OR FAIL): with the default ABORT a statement that writes many rows
// inside a transaction keeps a statement journal to undo itself alone, and
// that journal's memory is mapped and unmapped page by page. A failure
// rolls the whole transaction back here anyway.
func updateDeliveries(tx *gorm.DB, dialect db.Dialect, plans []planned, now time.Time) (map[string]bool, error) {
	q, args := deliveriesUpdate(dialect, plans, now)
	var got []string
	if err := tx.Raw(q, args...).Scan(&got).Error; err != nil {
		return nil, err
	}
	ok := make(map[string]bool, len(got))
	for _, id := range got {
		ok[id] = true
	}
	return ok, nil
}

// deliveriesUpdate builds updateDeliveries' statement and its arguments.
//
// On SQLite the status test is written +status: without statistics SQLite's
// planner guesses that status = ? matches about ten rows and, once the id
// list is longer than that, reads webhook_deliveries_due instead of the
// primary key, i.e. every pending row of the backlog for each batch (20,000
// rows per batch draining a 20,000 backlog). The unary + keeps that index
// out, so the rows are found by id; PostgreSQL plans from its statistics.
func deliveriesUpdate(dialect db.Dialect, plans []planned, now time.Time) (string, []any) {
	var (
		status, code, lastErr, next, delivered, claim    strings.Builder
		sArgs, cArgs, eArgs, nArgs, dArgs, fArgs, idArgs []any
	)
	for i := range plans {
		p := &plans[i]
		id := p.r.c.dl.ID
		status.WriteString(" WHEN ? THEN ?")
		sArgs = append(sArgs, id, p.status)
		code.WriteString(" WHEN ? THEN ?")
		cArgs = append(cArgs, id, p.r.o.status)
		lastErr.WriteString(" WHEN ? THEN ?")
		eArgs = append(eArgs, id, p.lastError)
		if p.next != nil {
			next.WriteString(" WHEN ? THEN ?")
			nArgs = append(nArgs, id, *p.next)
		}
		if p.delivered {
			delivered.WriteString(" WHEN ? THEN ?")
			dArgs = append(dArgs, id, now)
		}
		claim.WriteString(" WHEN ? THEN ?")
		fArgs = append(fArgs, id, p.r.c.token)
		idArgs = append(idArgs, id)
	}
	verb, statusCol := "UPDATE", "status"
	if dialect == db.SQLite {
		verb, statusCol = "UPDATE OR FAIL", "+status"
	}
	q := verb + " webhook_deliveries SET attempts = attempts + 1, claimed_by = '', lease_until = NULL, updated_at = ?" +
		", status = CASE id" + status.String() + " ELSE status END" +
		", last_status_code = CASE id" + code.String() + " ELSE last_status_code END" +
		", last_error = CASE id" + lastErr.String() + " ELSE last_error END"
	args := append([]any{now}, sArgs...)
	args = append(args, cArgs...)
	args = append(args, eArgs...)
	if len(nArgs) > 0 {
		q += ", next_attempt_at = CASE id" + next.String() + " ELSE next_attempt_at END"
		args = append(args, nArgs...)
	}
	if len(dArgs) > 0 {
		q += ", delivered_at = CASE id" + delivered.String() + " ELSE delivered_at END"
		args = append(args, dArgs...)
	}
	q += " WHERE " + statusCol + " = ? AND id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(plans)), ", ") + ")" +
		" AND claimed_by = CASE id" + claim.String() + " ELSE NULL END RETURNING id"
	args = append(args, StatusPending)
	args = append(args, idArgs...)
	args = append(args, fArgs...)
	return q, args
}
