package contracts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// TierCharge is the charge of one graduated tier for a month's calls.
type TierCharge struct {
	From, To        int64
	Quantity        int64
	UnitPriceMicros int64
	Amount          int64 // minor units, rounded half-even once
}

// GraduatedCharges prices calls against graduated tiers: each tier's calls times
// its unit price, rounded half-even per tier. Tiers without calls are omitted.
func GraduatedCharges(tiers []Tier, calls int64) []TierCharge {
	var out []TierCharge
	for _, t := range tiers {
		if calls <= t.From {
			break
		}
		upper := calls
		if t.To != 0 && t.To < upper {
			upper = t.To
		}
		q := upper - t.From
		out = append(out, TierCharge{From: t.From, To: t.To, Quantity: q, UnitPriceMicros: t.UnitPriceMicros,
			Amount: money.MulDivHalfEven(q, t.UnitPriceMicros, money.MicrosPerMinor)})
	}
	return out
}

// ShareRate is the revenue-share rate of the band the month's payment volume
// falls in (0 without bands).
func ShareRate(r RevenueShare, volume int64) int64 {
	for _, t := range r.Tiers {
		if volume >= t.From && (t.To == 0 || volume < t.To) {
			return t.BPS
		}
	}
	return 0
}

// UsageTotals is a partner's billable production usage for one month, as the
// settlement's SQL aggregation returns it.
type UsageTotals struct {
	Calls         map[string]int64 // per product
	Payments      int64            // payments in the contract currency
	PaymentValue  int64            // their total value, minor units
	ForeignCounts map[string]int64 // payments in other currencies, per currency (not billed)
	// Measured is the month's service-level measurement (nil: not measured,
	// no service credit).
	Measured *ServiceMeasure
}

// PaymentFees is the payment fee of n payments worth value (minor units, in
// the contract currency) under pf: n times the fixed fee, and pf.BPS basis
// points of value rounded half-even once. It is the one computation of a
// payment fee: settlement bills a month's payments with it (the two payment
// lines of a statement) and the partner reconciliation prices each payment
// (n = 1) and a day's total with it.
func PaymentFees(pf PaymentFee, n, value int64) (fixed, byValue int64) {
	return money.MulDivHalfEven(n, pf.FixedMinor, 1), money.MulDivHalfEven(value, pf.BPS, money.BPSDenominator)
}

// ComputeLines turns a month's usage, the terms in force and the pending
// adjustments into statement lines (see the package doc for the rules). It is a
// pure function: settlement and reconciliation both use it.
func ComputeLines(terms Terms, u UsageTotals, adjustments []Adjustment) []Line {
	var lines []Line
	add := func(l Line) {
		l.Seq = len(lines) + 1
		lines = append(lines, l)
	}
	fees := map[string][]Tier{}
	for _, pf := range terms.FeeSchedule.CallFees {
		fees[pf.Product] = pf.Tiers
	}
	products := make([]string, 0, len(u.Calls))
	for p := range u.Calls {
		products = append(products, p)
	}
	sort.Strings(products)
	var feesTotal int64
	for _, p := range products {
		n := u.Calls[p]
		tiers, ok := fees[p]
		if !ok {
			tiers = []Tier{{From: 0, To: 0, UnitPriceMicros: 0}}
		}
		for _, c := range GraduatedCharges(tiers, n) {
			add(Line{Kind: LineCallFee, Product: p, TierFrom: c.From, TierTo: c.To, Quantity: c.Quantity,
				UnitPriceMicros: c.UnitPriceMicros, Amount: c.Amount,
				Description: fmt.Sprintf("%s calls %s", p, tierLabel(c.From, c.To))})
			feesTotal += c.Amount
		}
	}
	var paymentRevenue int64
	if u.Payments > 0 {
		pf := terms.FeeSchedule.PaymentFee
		fixed, value := PaymentFees(pf, u.Payments, u.PaymentValue)
		add(Line{Kind: LinePaymentFixedFee, Product: "payments", Quantity: u.Payments, UnitPriceMicros: pf.FixedMinor * money.MicrosPerMinor,
			Amount: fixed, Description: "payment fees, fixed per payment"})
		add(Line{Kind: LinePaymentValueFee, Product: "payments", Quantity: u.Payments, RateBPS: pf.BPS, Base: u.PaymentValue,
			Amount: value, Description: "payment fees, basis points of value"})
		paymentRevenue = fixed + value
		feesTotal += paymentRevenue
		if len(terms.RevenueShare.Tiers) > 0 {
			rate := ShareRate(terms.RevenueShare, u.PaymentValue)
			add(Line{Kind: LineRevenueShare, Product: "payments", Quantity: u.Payments, RateBPS: rate, Base: paymentRevenue,
				Amount:      -money.MulDivHalfEven(paymentRevenue, rate, money.BPSDenominator),
				Description: fmt.Sprintf("revenue share at payment volume %s", money.FormatMinor(u.PaymentValue, terms.Currency))})
		}
	}
	if min := terms.FeeSchedule.MonthlyMinimum; min > feesTotal {
		add(Line{Kind: LineMinimumTopUp, Base: feesTotal, Amount: min - feesTotal,
			Description: fmt.Sprintf("minimum commitment %s", money.FormatMinor(min, terms.Currency))})
	}
	if sl := terms.ServiceLevels; sl.Enabled() && u.Measured != nil {
		base := feesTotal
		if min := terms.FeeSchedule.MonthlyMinimum; min > base {
			base = min
		}
		if d := ServiceCredit(sl, *u.Measured, base); d.Amount > 0 {
			add(Line{Kind: LineServiceCredit, RateBPS: d.RateBPS, Base: base, Amount: -d.Amount,
				Description: serviceCreditDescription(sl, *u.Measured, d)})
		}
	}
	for _, a := range adjustments {
		amt := a.Amount.Minor
		if a.Kind == AdjustmentCredit {
			amt = -amt
		}
		add(Line{Kind: LineAdjustment, Amount: amt, Reference: a.ID, Description: fmt.Sprintf("%s note for %s: %s", a.Kind, a.Period, a.Reason)})
	}
	return lines
}

func tierLabel(from, to int64) string {
	if to == 0 {
		return fmt.Sprintf("over %d", from)
	}
	return fmt.Sprintf("%d to %d", from+1, to)
}

// fillTotals sets the statement's totals, net and direction from its lines.
func fillTotals(st *Statement) {
	st.CallFees, st.PaymentFees, st.MinimumTopUp, st.RevenueShare, st.Adjustments, st.ServiceCredits, st.Net = 0, 0, 0, 0, 0, 0, 0
	for _, l := range st.Lines {
		switch l.Kind {
		case LineCallFee:
			st.CallFees += l.Amount
		case LinePaymentFixedFee, LinePaymentValueFee:
			st.PaymentFees += l.Amount
		case LineMinimumTopUp:
			st.MinimumTopUp += l.Amount
		case LineRevenueShare:
			st.RevenueShare -= l.Amount
		case LineAdjustment:
			st.Adjustments += l.Amount
		case LineServiceCredit:
			st.ServiceCredits -= l.Amount
		}
		st.Net += l.Amount
	}
	switch {
	case st.Net > 0:
		st.Direction = DirectionReceivable
	case st.Net < 0:
		st.Direction = DirectionPayable
	default:
		st.Direction = DirectionNone
	}
}

// StatementKey is the ledger idempotency key of a statement's posting.
func StatementKey(statementID string) string { return "statement:" + statementID }

// statementPosting is the ledger posting of a statement (adjustments are posted
// when issued, not here). Receivable and payable are netted.
func statementPosting(st Statement) Posting {
	rec := st.CallFees + st.MinimumTopUp + st.PaymentFees - st.ServiceCredits
	share := st.RevenueShare
	netted := min(rec, share)
	if netted < 0 {
		netted = 0
	}
	cur := st.Currency
	var es []Entry
	add := func(acct string, amt int64) {
		if amt != 0 {
			es = append(es, Entry{Account: acct, Currency: cur, Amount: amt})
		}
	}
	add(PartnerAccount(AccountPartnerReceivable, st.PartnerID), rec-netted)
	add(PartnerAccount(AccountPartnerPayable, st.PartnerID), -share+netted)
	add(AccountBankAPIRevenue, -(st.CallFees + st.MinimumTopUp))
	add(AccountBankPaymentRevenue, -st.PaymentFees)
	add(AccountRevenueShareExpense, share)
	add(AccountBankServiceCredits, st.ServiceCredits)
	return Posting{IdempotencyKey: StatementKey(st.ID), Description: fmt.Sprintf("statement %s for %s, %s", st.ID, st.PartnerID, st.Period), Entries: es}
}

type runRow struct {
	ID          string `gorm:"primaryKey"`
	Period      string
	StartedAt   time.Time
	CompletedAt *time.Time
}

func (runRow) TableName() string { return "settlement_runs" }

type statementRow struct {
	ID              string `gorm:"primaryKey"`
	PartnerID       string
	Period          string
	RunID           string
	ContractID      string
	ContractVersion int
	Currency        string
	CallFees        int64
	PaymentFees     int64
	MinimumTopup    int64
	RevenueShare    int64
	Adjustments     int64
	ServiceCredits  int64
	Net             int64
	Direction       string
	IssuedAt        time.Time
}

func (statementRow) TableName() string { return "statements" }

type lineRow struct {
	StatementID     string `gorm:"primaryKey"`
	Seq             int    `gorm:"primaryKey;autoIncrement:false"`
	Kind            string
	Product         string
	TierFrom        int64
	TierTo          int64
	Quantity        int64
	UnitPriceMicros int64
	RateBps         int64
	Base            int64
	Amount          int64
	Reference       string
	Description     string
}

func (lineRow) TableName() string { return "statement_lines" }

func toStatementRow(s Statement) statementRow {
	return statementRow{ID: s.ID, PartnerID: s.PartnerID, Period: s.Period, RunID: s.RunID, ContractID: s.ContractID,
		ContractVersion: s.ContractVersion, Currency: s.Currency, CallFees: s.CallFees, PaymentFees: s.PaymentFees,
		MinimumTopup: s.MinimumTopUp, RevenueShare: s.RevenueShare, Adjustments: s.Adjustments, ServiceCredits: s.ServiceCredits, Net: s.Net,
		Direction: s.Direction, IssuedAt: s.IssuedAt}
}

func (r statementRow) statement() Statement {
	return Statement{ID: r.ID, PartnerID: r.PartnerID, Period: r.Period, RunID: r.RunID, ContractID: r.ContractID,
		ContractVersion: r.ContractVersion, Currency: r.Currency, CallFees: r.CallFees, PaymentFees: r.PaymentFees,
		MinimumTopUp: r.MinimumTopup, RevenueShare: r.RevenueShare, Adjustments: r.Adjustments, ServiceCredits: r.ServiceCredits, Net: r.Net,
		Direction: r.Direction, IssuedAt: r.IssuedAt.UTC()}
}

func (r lineRow) line() Line {
	return Line{Seq: r.Seq, Kind: r.Kind, Product: r.Product, TierFrom: r.TierFrom, TierTo: r.TierTo, Quantity: r.Quantity,
		UnitPriceMicros: r.UnitPriceMicros, RateBPS: r.RateBps, Base: r.Base, Amount: r.Amount, Reference: r.Reference,
		Description: r.Description}
}

// partnersToSettle lists the partners with a contract covering [start, end).
func (s *Service) partnersToSettle(ctx context.Context, g *gorm.DB, start, end time.Time) ([]string, error) {
	var out []string
	err := g.WithContext(ctx).Raw(`SELECT DISTINCT partner_id FROM contracts
		WHERE status IN (?, ?, ?) AND start_at < ? AND end_at > ? AND (terminated_at IS NULL OR terminated_at > ?)
		ORDER BY partner_id`, StatusActive, StatusExpired, StatusTerminated, end, start, start).Scan(&out).Error
	return out, err
}

// termsFor returns the contract covering [start, end) for the partner and the
// version in force at the end of the period (the latest approved before end; if
// every version was approved later, the first).
func (s *Service) termsFor(ctx context.Context, g *gorm.DB, partnerID string, start, end time.Time) (contractRow, Version, bool, error) {
	var c contractRow
	err := g.WithContext(ctx).Where(`partner_id = ? AND status IN (?, ?, ?) AND start_at < ? AND end_at > ?
		AND (terminated_at IS NULL OR terminated_at > ?)`, partnerID, StatusActive, StatusExpired, StatusTerminated, end, start, start).
		Order("start_at DESC, id").Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return c, Version{}, false, nil
	}
	if err != nil {
		return c, Version{}, false, err
	}
	var vs []versionRow
	if err := g.WithContext(ctx).Where("contract_id = ? AND approved_at IS NOT NULL", c.ID).Order("version").Find(&vs).Error; err != nil {
		return c, Version{}, false, err
	}
	if len(vs) == 0 {
		return c, Version{}, false, fmt.Errorf("contracts: contract %s has no approved version", c.ID)
	}
	pick := vs[0]
	for _, v := range vs {
		if v.ApprovedAt.Before(end) {
			pick = v
		}
	}
	v, err := pick.version()
	return c, v, err == nil, err
}

// usageGroup is one group of a period's billable production usage.
type usageGroup struct {
	PartnerID string
	Product   string
	Kind      string
	Currency  string
	N         int64
	Amount    int64
}

// periodUsage sums the billable production usage of [start, end) of every
// partner in one GROUP BY query: one pass over the table (on SQLite a scan of
// the table itself, NOT INDEXED: walking the (partner_id, at) index would
// fetch every row by rowid in index order, far slower than reading the table
// in order; on PostgreSQL a sequential scan and a hash aggregate), instead of
// one index range scan per partner.
func (s *Service) periodUsage(ctx context.Context, g *gorm.DB, start, end time.Time) (map[string][]usageGroup, error) {
	from := "usage_records"
	if s.db.Dialect == db.SQLite {
		from += " NOT INDEXED"
	}
	var rows []usageGroup
	err := g.WithContext(ctx).Raw(`SELECT partner_id, product, kind, currency, COUNT(*) AS n, COALESCE(SUM(amount), 0) AS amount
		FROM `+from+`
		WHERE at >= ? AND at < ? AND environment = ? AND billable = ?
		GROUP BY partner_id, product, kind, currency`, start, end, environment.Production, true).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := map[string][]usageGroup{}
	for _, r := range rows {
		out[r.PartnerID] = append(out[r.PartnerID], r)
	}
	return out, nil
}

// usageTotals folds a partner's usage groups into the totals its statement
// bills in the contract currency.
func usageTotals(groups []usageGroup, currency string) UsageTotals {
	u := UsageTotals{Calls: map[string]int64{}, ForeignCounts: map[string]int64{}}
	for _, r := range groups {
		switch {
		case r.Kind == KindCall:
			u.Calls[r.Product] += r.N
		case r.Kind == KindPayment && r.Currency == currency:
			u.Payments += r.N
			u.PaymentValue += r.Amount
		case r.Kind == KindPayment:
			u.ForeignCounts[r.Currency] += r.N
		}
	}
	return u
}

type adjustmentRow struct {
	ID             string `gorm:"primaryKey"`
	PartnerID      string
	Period         string
	Kind           string
	Amount         int64
	Currency       string
	Reason         string
	StatementID    *string
	PostingID      string
	CreatedBy      string
	CreatedAt      time.Time
	Status         string
	DecidedBy      string
	DecidedAt      *time.Time
	DecisionReason string
}

func (adjustmentRow) TableName() string { return "adjustments" }

func (r adjustmentRow) adjustment() Adjustment {
	a := Adjustment{ID: r.ID, PartnerID: r.PartnerID, Period: r.Period, Kind: r.Kind, Amount: money.Money{Minor: r.Amount, Currency: r.Currency},
		Reason: r.Reason, PostingID: r.PostingID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), Status: r.Status,
		DecidedBy: r.DecidedBy, DecidedAt: utcPtr(r.DecidedAt), DecisionReason: r.DecisionReason}
	if r.StatementID != nil {
		a.StatementID = *r.StatementID
	}
	return a
}

// errStatementExists aborts a partner's settlement transaction that lost a race.
var errStatementExists = errors.New("statement exists")

// Settle settles a month ("2026-10"): one statement per partner whose contract
// covers it, each with its lines, ledger posting and statement.issued event in one
// transaction. A period already settled returns its run unchanged
// (AlreadySettled); an interrupted run is completed. It refuses CodeValidation for
// a malformed period and CodeInvalidRequest for a month not over at now.
func (s *Service) Settle(ctx context.Context, period string, now time.Time) (SettlementRun, error) {
	start, end, err := ParsePeriod(period)
	if err != nil {
		return SettlementRun{}, err
	}
	now = now.UTC()
	if end.After(now) {
		return SettlementRun{}, problem.New(problem.CodeInvalidRequest, "period %s has not ended yet; it can be settled from %s", period, end.Format(time.RFC3339))
	}
	g := s.db.DB.WithContext(ctx)
	var run runRow
	if err := g.Where("period = ?", period).Take(&run).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return SettlementRun{}, err
	}
	if run.CompletedAt != nil {
		out, err := s.runResult(ctx, run)
		out.AlreadySettled = true
		return out, err
	}
	if run.ID == "" {
		if err := g.Exec(`INSERT INTO settlement_runs (id, period, started_at) VALUES (?, ?, ?) ON CONFLICT (period) DO NOTHING`,
			ids.New("stl"), period, now).Error; err != nil {
			return SettlementRun{}, err
		}
		if err := g.Where("period = ?", period).Take(&run).Error; err != nil {
			return SettlementRun{}, err
		}
	}
	partners, err := s.partnersToSettle(ctx, g, start, end)
	if err != nil {
		return SettlementRun{}, err
	}
	// The month is over: its usage is summed once for every partner, then
	// each partner's statement is written in a transaction of its own.
	usage, err := s.periodUsage(ctx, g, start, end)
	if err != nil {
		return SettlementRun{}, err
	}
	for _, p := range partners {
		if err := s.settlePartner(ctx, run.ID, p, period, start, end, end, now, usage[p]); err != nil && !errors.Is(err, errStatementExists) {
			return SettlementRun{}, fmt.Errorf("contracts: settle %s for %s: %w", period, p, err)
		}
	}
	if err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&runRow{}).Where("id = ? AND completed_at IS NULL", run.ID).Update("completed_at", now)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorSystem, ActorID: SystemActor.ID, Action: "settlement.completed",
			ObjectType: "settlement_run", ObjectID: run.ID, Details: map[string]any{"period": period, "partners": len(partners)}})
	}); err != nil {
		return SettlementRun{}, err
	}
	if err := g.Where("id = ?", run.ID).Take(&run).Error; err != nil {
		return SettlementRun{}, err
	}
	return s.runResult(ctx, run)
}

// SettleAs is Settle on behalf of a member of staff (the console action): only
// finance and admin may run it (CodeForbidden otherwise); the run is audited.
func (s *Service) SettleAs(ctx context.Context, actor Actor, period string, now time.Time) (SettlementRun, error) {
	if err := authorize(actor, staff.ActSettlementsRun); err != nil {
		return SettlementRun{}, err
	}
	run, err := s.Settle(ctx, period, now)
	if err != nil {
		return run, err
	}
	err = audit.Record(ctx, s.db.DB, audit.Entry{ActorType: audit.ActorStaff, ActorID: actor.ID, Action: "settlement.requested",
		ObjectType: "settlement_run", ObjectID: run.ID, Details: map[string]any{"period": period, "already_settled": run.AlreadySettled}})
	return run, err
}

func (s *Service) runResult(ctx context.Context, run runRow) (SettlementRun, error) {
	out := SettlementRun{ID: run.ID, Period: run.Period, StartedAt: run.StartedAt.UTC(), CompletedAt: utcPtr(run.CompletedAt)}
	err := s.db.DB.WithContext(ctx).Model(&statementRow{}).Where("period = ?", run.Period).Order("partner_id").Pluck("id", &out.StatementIDs).Error
	return out, err
}

// measure reads the month's service-level measurement of a partner whose
// terms in force have service levels (nil otherwise), before the partner's
// settlement transaction (the source reads the database on its own).
func (s *Service) measure(ctx context.Context, partnerID string, start, end, upTo time.Time) (*ServiceMeasure, error) {
	c, v, ok, err := s.termsFor(ctx, s.db.DB, partnerID, start, end)
	if err != nil || !ok || !v.Terms.ServiceLevels.Enabled() {
		return nil, err
	}
	if s.serviceLevels == nil {
		return nil, fmt.Errorf("contracts: contract %s v%d has service levels and no service-level measurements are wired", c.ID, v.Version)
	}
	m, err := s.serviceLevels.MonthServiceLevel(ctx, partnerID, start, upTo)
	if err != nil {
		return nil, fmt.Errorf("contracts: service levels of %s: %w", partnerID, err)
	}
	return &m, nil
}

type serviceLevelRow struct {
	StatementID string `gorm:"primaryKey"`
	PartnerID   string
	Period      string
	Requests    int64
	Failed      int64
	P95Us       int64
	MeasuredAt  time.Time
}

func (serviceLevelRow) TableName() string { return "statement_service_levels" }

func (r serviceLevelRow) measure() ServiceMeasure {
	return ServiceMeasure{Requests: r.Requests, Failed: r.Failed, P95US: r.P95Us}
}

// StatementServiceLevel returns the measurement a statement's service credit
// was computed from (ok false when its terms had no service levels). Scoped
// like Statement.
func (s *Service) StatementServiceLevel(ctx context.Context, partnerID, statementID string) (ServiceMeasure, bool, error) {
	q := s.db.DB.WithContext(ctx).Where("statement_id = ?", statementID)
	if partnerID != "" {
		q = q.Where("partner_id = ?", partnerID)
	}
	var rows []serviceLevelRow
	if err := q.Limit(1).Find(&rows).Error; err != nil || len(rows) == 0 {
		return ServiceMeasure{}, false, err
	}
	return rows[0].measure(), true, nil
}

// settlePartner writes partnerID's statement of period for the usage of
// [start, upTo) (upTo is the period's end, or earlier for a final statement,
// whose monthly minimum is then prorated to the share of the month covered,
// and whose service levels are measured over the part of the month covered).
func (s *Service) settlePartner(ctx context.Context, runID, partnerID, period string, start, end, upTo, now time.Time, usage []usageGroup) error {
	measured, err := s.measure(ctx, partnerID, start, end, upTo)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&statementRow{}).Where("partner_id = ? AND period = ?", partnerID, period).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return errStatementExists
		}
		c, v, ok, err := s.termsFor(ctx, tx, partnerID, start, end)
		if err != nil || !ok {
			return err
		}
		if upTo.Before(end) {
			v.Terms.FeeSchedule.MonthlyMinimum = money.MulDivHalfEven(v.Terms.FeeSchedule.MonthlyMinimum,
				int64(upTo.Sub(start)/time.Second), int64(end.Sub(start)/time.Second))
		}
		u := usageTotals(usage, v.Terms.Currency)
		if v.Terms.ServiceLevels.Enabled() {
			if measured == nil {
				return problem.New(problem.CodeConflict, "the contract of %s changed during settlement; run it again", partnerID)
			}
			u.Measured = measured
		}
		var adjRows []adjustmentRow
		if err := tx.Where("partner_id = ? AND statement_id IS NULL AND status = ? AND period <= ? AND currency = ?",
			partnerID, AdjustmentIssued, period, v.Terms.Currency).
			Order("created_at, id").Find(&adjRows).Error; err != nil {
			return err
		}
		adjs := make([]Adjustment, len(adjRows))
		adjIDs := make([]string, len(adjRows))
		for i, r := range adjRows {
			adjs[i], adjIDs[i] = r.adjustment(), r.ID
		}
		st := Statement{ID: ids.New("stm"), PartnerID: partnerID, Period: period, RunID: runID, ContractID: c.ID,
			ContractVersion: v.Version, Currency: v.Terms.Currency, IssuedAt: now, Lines: ComputeLines(v.Terms, u, adjs)}
		fillTotals(&st)
		if err := tx.Create(ptr(toStatementRow(st))).Error; err != nil {
			if isDuplicate(err) {
				return errStatementExists
			}
			return err
		}
		if len(st.Lines) > 0 {
			rows := make([]lineRow, len(st.Lines))
			for i, l := range st.Lines {
				rows[i] = lineRow{StatementID: st.ID, Seq: l.Seq, Kind: l.Kind, Product: l.Product, TierFrom: l.TierFrom, TierTo: l.TierTo,
					Quantity: l.Quantity, UnitPriceMicros: l.UnitPriceMicros, RateBps: l.RateBPS, Base: l.Base, Amount: l.Amount,
					Reference: l.Reference, Description: l.Description}
			}
			if err := tx.Create(&rows).Error; err != nil {
				return err
			}
		}
		if u.Measured != nil {
			m := u.Measured
			if err := tx.Create(&serviceLevelRow{StatementID: st.ID, PartnerID: partnerID, Period: period, Requests: m.Requests,
				Failed: m.Failed, P95Us: m.P95US, MeasuredAt: now}).Error; err != nil {
				return err
			}
		}
		if len(adjIDs) > 0 {
			res := tx.Model(&adjustmentRow{}).Where("id IN ? AND statement_id IS NULL", adjIDs).Update("statement_id", st.ID)
			if res.Error != nil {
				return res.Error
			}
			if int(res.RowsAffected) != len(adjIDs) {
				return problem.New(problem.CodeConflict, "adjustments of %s changed during settlement; run it again", partnerID)
			}
		}
		if p := statementPosting(st); len(p.Entries) > 0 {
			if _, err := s.Ledger.Post(ctx, tx, p); err != nil {
				return err
			}
		}
		if s.events != nil {
			if err := s.events.Publish(ctx, tx, EventStatementIssued, partnerID, "", map[string]any{
				"statement_id": st.ID, "period": period, "currency": st.Currency, "net": st.Net, "direction": st.Direction,
			}); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorSystem, ActorID: SystemActor.ID, Action: "statement.issued",
			ObjectType: "statement", ObjectID: st.ID, PartnerID: partnerID,
			Details: map[string]any{"period": period, "net": st.Net, "currency": st.Currency, "run": runID, "service_credits": st.ServiceCredits}})
	})
}

func ptr[T any](v T) *T { return &v }
