package web

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// clausesForm is the contract form's clause fields as typed (issue 17 item 6).
type clausesForm struct {
	ConfClause, ConfMonths              string
	AvailTarget, AvailCredits           string // credits: one band per line: below_bps credit_bps
	P95Target, LatencyCredit, CreditCap string
	LiabilityCap                        string // major units of the contract currency
	FraudBank, FraudPartner, Indemnity  string
	EscalationSteps                     string // one per line
	EscalationDays, GoverningLaw, Venue string
}

func optInt(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func formOfClauses(t contracts.Terms) clausesForm {
	sl, l, d := t.ServiceLevels, t.Liability, t.DisputeResolution
	f := clausesForm{ConfClause: t.Confidentiality.Clause, ConfMonths: optInt(int64(t.Confidentiality.MonthsAfterTermination)),
		AvailTarget: optInt(sl.AvailabilityTargetBPS), P95Target: optInt(sl.P95TargetMS), LatencyCredit: optInt(sl.LatencyCreditBPS),
		CreditCap: optInt(sl.CreditCapBPS), FraudBank: optInt(l.FraudLossBankBPS), FraudPartner: optInt(l.FraudLossPartnerBPS),
		Indemnity: l.IndemnityClause, EscalationSteps: strings.Join(d.EscalationSteps, "\n"),
		EscalationDays: optInt(int64(d.DaysToEscalate)), GoverningLaw: d.GoverningLaw, Venue: d.Venue}
	if l.CapMinor != 0 {
		f.LiabilityCap = money.FormatMinor(l.CapMinor, t.Currency)
	}
	var lines []string
	for _, b := range sl.AvailabilityCredits {
		lines = append(lines, fmt.Sprintf("%d %d", b.BelowBPS, b.CreditBPS))
	}
	f.AvailCredits = strings.Join(lines, "\n")
	return f
}

func readClausesForm(c *gin.Context) clausesForm {
	p := c.PostForm
	return clausesForm{ConfClause: p("confidentiality_clause"), ConfMonths: p("confidentiality_months"),
		AvailTarget: p("availability_target_bps"), AvailCredits: p("availability_credits"), P95Target: p("p95_target_ms"),
		LatencyCredit: p("latency_credit_bps"), CreditCap: p("credit_cap_bps"), LiabilityCap: p("liability_cap"),
		FraudBank: p("fraud_loss_bank_bps"), FraudPartner: p("fraud_loss_partner_bps"), Indemnity: p("indemnity_clause"),
		EscalationSteps: p("escalation_steps"), EscalationDays: p("days_to_escalate"), GoverningLaw: p("governing_law"), Venue: p("venue")}
}

// apply parses the clause fields into t (whose currency is set);
// contracts.Terms.Validate checks the rest.
func (f clausesForm) apply(t *contracts.Terms) error {
	var err error
	num := func(name, v string) int64 {
		if err != nil {
			return 0
		}
		var n int64
		n, err = intField(name, v)
		return n
	}
	t.Confidentiality.Clause = f.ConfClause
	t.Confidentiality.MonthsAfterTermination = int(num("confidentiality duration", f.ConfMonths))
	sl := &t.ServiceLevels
	sl.AvailabilityTargetBPS = num("availability target", f.AvailTarget)
	sl.P95TargetMS = num("p95 response time target", f.P95Target)
	sl.LatencyCreditBPS = num("p95 credit", f.LatencyCredit)
	sl.CreditCapBPS = num("credit cap", f.CreditCap)
	for i, line := range strings.Split(f.AvailCredits, "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 || err != nil {
			continue
		}
		if len(fs) != 2 {
			return formInvalid("availability credit line %d must be: below_bps credit_bps", i+1)
		}
		what := fmt.Sprintf("availability credit line %d", i+1)
		sl.AvailabilityCredits = append(sl.AvailabilityCredits, contracts.AvailabilityCredit{BelowBPS: num(what, fs[0]), CreditBPS: num(what, fs[1])})
	}
	l := &t.Liability
	if v := strings.TrimSpace(f.LiabilityCap); v != "" && err == nil {
		if l.CapMinor, err = money.ParseMajor(v, t.Currency); err != nil {
			return formInvalid("liability cap must be an amount in %s, such as 100000.00", t.Currency)
		}
	}
	l.FraudLossBankBPS = num("bank's fraud-loss share", f.FraudBank)
	l.FraudLossPartnerBPS = num("partner's fraud-loss share", f.FraudPartner)
	l.IndemnityClause = f.Indemnity
	d := &t.DisputeResolution
	for _, s := range strings.Split(f.EscalationSteps, "\n") {
		if s = strings.TrimSpace(s); s != "" {
			d.EscalationSteps = append(d.EscalationSteps, s)
		}
	}
	d.DaysToEscalate = int(num("days to escalate", f.EscalationDays))
	d.GoverningLaw, d.Venue = f.GoverningLaw, f.Venue
	return err
}

// ClausesView is a version's clauses as the console and the portal show
// them (read-only); empty strings are clauses not agreed.
type ClausesView struct {
	ConfidentialityClause string
	ConfidentialityMonths int
	AvailabilityTarget    string // "99.90 %"
	AvailabilityCredits   []string
	P95Target             string // "300 ms"
	LatencyCredit         string
	CreditCap             string
	LiabilityCap          string // "100,000.00 EUR"
	FraudLossShare        string // "bank 70.00 %, partner 30.00 %"
	IndemnityClause       string
	EscalationSteps       []string
	DaysToEscalate        int
	GoverningLaw, Venue   string
}

// Any reports whether any clause is agreed.
func (v ClausesView) Any() bool {
	return v.ConfidentialityClause != "" || v.AvailabilityTarget != "" || v.P95Target != "" || v.LiabilityCap != "" ||
		v.FraudLossShare != "" || v.IndemnityClause != "" || len(v.EscalationSteps) > 0 || v.GoverningLaw != "" || v.Venue != ""
}

func bpsPct(bps int64) string { return fmt.Sprintf("%d.%02d %%", bps/100, bps%100) }

func clausesView(t contracts.Terms) ClausesView {
	sl, l, d := t.ServiceLevels, t.Liability, t.DisputeResolution
	v := ClausesView{ConfidentialityClause: t.Confidentiality.Clause, ConfidentialityMonths: t.Confidentiality.MonthsAfterTermination,
		IndemnityClause: l.IndemnityClause, EscalationSteps: d.EscalationSteps, DaysToEscalate: d.DaysToEscalate,
		GoverningLaw: d.GoverningLaw, Venue: d.Venue}
	if sl.AvailabilityTargetBPS > 0 {
		v.AvailabilityTarget = bpsPct(sl.AvailabilityTargetBPS)
	}
	for _, b := range sl.AvailabilityCredits {
		v.AvailabilityCredits = append(v.AvailabilityCredits, fmt.Sprintf("below %s: %s of the month's fees", bpsPct(b.BelowBPS), bpsPct(b.CreditBPS)))
	}
	if sl.P95TargetMS > 0 {
		v.P95Target = fmt.Sprintf("%d ms", sl.P95TargetMS)
		if sl.LatencyCreditBPS > 0 {
			v.LatencyCredit = bpsPct(sl.LatencyCreditBPS) + " of the month's fees"
		}
	}
	if sl.CreditCapBPS > 0 {
		v.CreditCap = bpsPct(sl.CreditCapBPS) + " of the month's fees"
	}
	if l.CapMinor > 0 {
		v.LiabilityCap = money.Money{Minor: l.CapMinor, Currency: t.Currency}.String()
	}
	if l.FraudLossBankBPS+l.FraudLossPartnerBPS > 0 {
		v.FraudLossShare = "bank " + bpsPct(l.FraudLossBankBPS) + ", partner " + bpsPct(l.FraudLossPartnerBPS)
	}
	return v
}

// agreementBodyLimit bounds an upload request: the document plus the form.
const agreementBodyLimit = contracts.MaxAgreementBytes + 64<<10

var errAgreementTooBig = fmt.Sprintf("The signed agreement must be a PDF of at most %d MB.", contracts.MaxAgreementBytes>>20)

// uploadAgreement attaches the signed PDF to the contract's latest version.
func (b *ConsoleBilling) uploadAgreement(c *gin.Context) {
	id := c.Param("cid")
	tooBig := c.Request.ContentLength > agreementBodyLimit
	orig := c.Request.Body
	c.Request.Body = http.MaxBytesReader(c.Writer, orig, agreementBodyLimit)
	var parseErr error
	if !tooBig {
		parseErr = c.Request.ParseMultipartForm(1 << 20)
		var mbe *http.MaxBytesError
		tooBig = errors.As(parseErr, &mbe)
	}
	if tooBig {
		// The form was not read: no CSRF token to check, and nothing
		// changes. The rest of a body up to twice the limit is read so
		// the browser sees this page rather than a reset connection.
		io.Copy(io.Discard, io.LimitReader(orig, 2*agreementBodyLimit))
		c.Header("Connection", "close")
		b.Console.page(c, http.StatusRequestEntityTooLarge, "problem", Page{Title: "Too large", Error: errAgreementTooBig})
		return
	}
	st, v, ok := b.staff(c, "contracts", staff.ActContractsRead)
	if !ok {
		return
	}
	var content []byte
	name := ""
	fh, err := c.FormFile("document")
	if err == nil {
		name = fh.Filename
		var f io.ReadCloser
		if f, err = fh.Open(); err == nil {
			content, err = io.ReadAll(io.LimitReader(f, contracts.MaxAgreementBytes+1))
			f.Close()
		}
	} else if errors.Is(err, http.ErrMissingFile) {
		err = nil // contracts refuses the empty document with its own message
	}
	if err == nil {
		_, err = b.Contracts.UploadAgreement(c.Request.Context(), actorOf(st), id, name, content)
	}
	if err != nil {
		status, msg := problemMessage(b.Console, "attach agreement", err)
		b.renderContract(c, st, v, id, status, "", msg, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/contracts/"+id+"?done=agreement")
}

// sendAgreement answers a version's signed agreement as a download, scoped to
// partnerID ("" for staff).
func sendAgreement(c *gin.Context, cs *contracts.Service, partnerID, contractID, version string, fail func(int, string), log *slog.Logger) {
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 {
		fail(http.StatusNotFound, "No such version.")
		return
	}
	ag, body, err := cs.AgreementDocument(c.Request.Context(), partnerID, contractID, n)
	if err != nil {
		status, msg := refusal(log, "agreement", err)
		fail(status, msg)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(ag.Filename, `"`, "")+`"`)
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Security-Policy", "sandbox")
	c.Header("Digest", "sha-256="+ag.SHA256)
	c.Data(http.StatusOK, ag.ContentType, body)
}

func (b *ConsoleBilling) downloadAgreement(c *gin.Context) {
	st, _, ok := b.staff(c, "contracts", staff.ActContractsRead)
	if !ok {
		return
	}
	sendAgreement(c, b.Contracts, "", c.Param("cid"), c.Param("version"), func(status int, msg string) {
		b.Console.problemPage(c, status, titleFor(status), msg, who(st))
	}, b.Console.log())
}

// portalContract is the billing page's contract section: the partner's
// current contract, its clauses and the signed agreements.
type portalContract struct {
	Contract    contracts.Contract
	Terms       contracts.Terms
	Clauses     ClausesView
	Agreements  []contracts.Agreement
	CanDownload bool // owners (partners.ActContractDocuments)
}

// portalContractOf loads the partner's current contract (active, else the
// latest), nil when it has none.
func portalContractOf(c *gin.Context, cs *contracts.Service, partnerID string, role partners.Role) (*portalContract, error) {
	ctx := c.Request.Context()
	list, err := cs.Contracts(ctx, contracts.ContractFilter{PartnerID: partnerID})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	ct := list[0]
	for _, x := range list {
		if x.Status == contracts.StatusActive {
			ct = x
			break
		}
	}
	if ct.ActiveVersion == 0 {
		return nil, nil // nothing agreed yet: drafts are the bank's
	}
	vs, err := cs.Versions(ctx, ct.ID)
	if err != nil {
		return nil, err
	}
	out := &portalContract{Contract: ct, CanDownload: partners.Can(role, partners.ActContractDocuments)}
	for _, v := range vs {
		if v.Version == ct.ActiveVersion {
			out.Terms, out.Clauses = v.Terms, clausesView(v.Terms)
		}
	}
	all, err := cs.Agreements(ctx, partnerID, ct.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range all {
		if a.Version <= ct.ActiveVersion { // a draft version's document is not the partner's yet
			out.Agreements = append(out.Agreements, a)
		}
	}
	return out, nil
}

// agreement downloads a signed agreement of the partner's contract (owners
// only; another partner's contract is not found).
func (b *PortalBilling) agreement(c *gin.Context) {
	u, o, ok := b.Portal.org(c, "Billing")
	if !ok {
		return
	}
	fail := func(status int, msg string) { b.Portal.problemPage(c, status, titleFor(status), msg, u.Email) }
	if !partners.Can(o.Role, partners.ActContractDocuments) {
		fail(http.StatusForbidden, "Only the organisation's owners may download the signed agreement.")
		return
	}
	// Only approved versions' documents are the partner's: a draft's is
	// not found, exactly as another partner's contract.
	ct, err := b.Contracts.Contract(c.Request.Context(), c.Param("cid"))
	if n, _ := strconv.Atoi(c.Param("version")); err == nil && (ct.PartnerID != o.Partner.ID || n > ct.ActiveVersion) {
		fail(http.StatusNotFound, "No signed agreement for that version.")
		return
	}
	sendAgreement(c, b.Contracts, o.Partner.ID, c.Param("cid"), c.Param("version"), fail, b.Portal.log())
}
