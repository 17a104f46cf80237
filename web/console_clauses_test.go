package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// newClausesEnv serves the console's contract pages and the portal's billing
// pages with a contracts.Service that requires the signed agreement, as the
// platform does.
func newClausesEnv(t *testing.T) (*pagesEnv, *contracts.Service) {
	t.Helper()
	secrets.PasswordCost = 4
	d := dbtest.MustSQLite(t)
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := partners.New(partners.Config{DB: d, Box: box, PortalURL: "https://bank.example/portal",
		RegistrationURL: "https://bank.example/register"})
	if err != nil {
		t.Fatal(err)
	}
	cs := contracts.New(d, contracts.Options{RequireSignedAgreement: true})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gin.SetMode(gin.TestMode)
	r := gin.New()
	pages, sessions := MustRenderer(), &Sessions{DB: d.DB}
	console := &Console{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, Log: log}
	console.Register(r)
	(&ConsoleBilling{Console: console, Contracts: cs, Now: func() time.Time { return time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC) }}).Register(r)
	portal := &Portal{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, Log: log}
	portal.Register(r)
	(&PortalBilling{Portal: portal, Contracts: cs}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &pagesEnv{t: t, d: d, svc: svc, srv: srv, log: log}, cs
}

// upload posts a multipart form with the page's CSRF token and a file.
func (b *browser) upload(path, field, filename string, content []byte) (int, string) {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField(CSRFField, b.csrf)
	fw, _ := w.CreateFormFile(field, filename)
	fw.Write(content)
	w.Close()
	return b.read(b.c.Post(b.base+path, w.FormDataContentType(), &buf))
}

// download GETs path and returns the status, the Content-Type and the body.
func (b *browser) download(path string) (int, string, []byte) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// TestConsoleContractClauses: staff write the clauses in the contract form
// (field errors shown readably), attach the signed PDF (refusals shown),
// cannot approve without it, approve with it; the partner sees the clauses
// and the hash in the portal, owners download the document, a viewer and
// another partner cannot.
func TestConsoleContractClauses(t *testing.T) {
	e, _ := newClausesEnv(t)
	adminB, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	finB, _ := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)
	ownerID, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
	_, otherPID := e.livePartner("owner@other.example", "Other Ltd")
	form := url.Values{"partner_id": {pid}, "start": {"2026-11-01"}, "end": {"2027-11-01"}, "auto_renew": {"1"}, "notice_days": {"60"},
		"currency": {"EUR"}, "data_scopes": {"transaction_insights"}, "call_fees": {"accounts 0 0 250000"},
		"payment_fixed_minor": {"10"}, "payment_bps": {"5"}, "monthly_minimum": {"0"}, "share_tiers": {"0 0 1000"},
		"confidentiality_clause": {"Each party keeps the other's information confidential."}, "confidentiality_months": {"24"},
		"availability_target_bps": {"9990"}, "availability_credits": {"9990 500\n9900 1000"}, "p95_target_ms": {"300"},
		"latency_credit_bps": {"250"}, "credit_cap_bps": {"1200"}, "liability_cap": {"100000.00"},
		"fraud_loss_bank_bps": {"7000"}, "fraud_loss_partner_bps": {"3000"}, "indemnity_clause": {"The partner indemnifies the bank."},
		"escalation_steps": {"Relationship managers\nMediation (CEDR)"}, "days_to_escalate": {"14"},
		"governing_law": {"England and Wales"}, "venue": {"London"}}
	finB.get("/console/contracts/new")
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("fraud_loss_partner_bps", "2000")
	status, body := finB.post("/console/contracts", bad)
	want(t, "fail/fraud-shares", status, body, 422, "liability.fraud_loss_partner_bps: bank and partner shares must sum to 10000 (now 9000).")
	bad.Set("fraud_loss_partner_bps", "3000")
	bad.Set("liability_cap", "lots")
	status, body = finB.post("/console/contracts", bad)
	want(t, "fail/liability-cap", status, body, 422, "Liability cap must be an amount in EUR, such as 100000.00.")

	status, body = finB.post("/console/contracts", form)
	want(t, "ok/draft", status, body, 200, "Contract drafted.", "Monthly availability target 99.90 %",
		"Credit: availability below 99.00 %: 10.00 % of the month&#39;s fees", "Liability cap: 100000.00 EUR",
		"Fraud losses: bank 70.00 %, partner 30.00 %", "Mediation (CEDR)", "Governing law: England and Wales",
		`id="agreement-missing"`, `value="100000.00"`)
	cid := strings.TrimPrefix(strings.SplitN(finB.url, "?", 2)[0], "/console/contracts/")
	page := "/console/contracts/" + cid
	status, body = finB.post(page+"/submit", nil)
	want(t, "ok/submit", status, body, 200, "Submitted for approval.")
	adminB.get(page)
	status, body = adminB.post(page+"/approve", nil)
	want(t, "fail/approve-without-agreement", status, body, 409,
		"Version 1 of contract "+cid+" has no signed agreement; attach the signed PDF before approving it.")

	finB.get(page)
	token := finB.csrf
	finB.csrf = "forged"
	status, body = finB.upload(page+"/agreement", "document", "signed.pdf", []byte("%PDF-1.7\n"))
	want(t, "fail/no-csrf", status, body, 403, "This form has expired or did not come from this site.")
	finB.csrf = token
	audB, _ := e.staffBrowser(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)
	audB.get(page)
	status, body = audB.upload(page+"/agreement", "document", "signed.pdf", []byte("%PDF-1.7\n"))
	want(t, "fail/auditor", status, body, 403, "Role &#34;auditor&#34; may not edit contracts.")
	finB.get(page)
	status, body = finB.upload(page+"/agreement", "document", "signed.docx", []byte("PK\x03\x04 not a pdf"))
	want(t, "fail/not-pdf", status, body, 422, "Signed agreement is invalid. document: must be a PDF file.")
	status, body = finB.upload(page+"/agreement", "document", "big.pdf", append([]byte("%PDF-1.7\n"), make([]byte, contracts.MaxAgreementBytes+64<<10)...))
	want(t, "fail/too-big", status, body, 413, "The signed agreement must be a PDF of at most 10 MB.")
	finB.get(page)
	status, body = finB.upload(page+"/agreement", "document", "big.pdf", append([]byte("%PDF-1.7\n"), make([]byte, contracts.MaxAgreementBytes-8)...))
	want(t, "fail/one-byte-over", status, body, 422, "Signed agreement is invalid. document: must be at most 10485760 bytes (10 MB).")
	finB.get(page)
	doc := []byte("%PDF-1.7\nsigned by both parties\n%%EOF\n")
	sum := sha256.Sum256(doc)
	hash := hex.EncodeToString(sum[:])
	status, body = finB.upload(page+"/agreement", "document", "Wallet agreement.pdf", doc)
	want(t, "ok/attach", status, body, 200, "Signed agreement attached.", hash, "Wallet agreement.pdf")
	status, ctype, got := finB.download(page + "/agreements/1")
	if status != 200 || ctype != "application/pdf" || !bytes.Equal(got, doc) {
		t.Fatalf("staff download: %d %s %q", status, ctype, got)
	}
	adminB.get(page)
	status, body = adminB.post(page+"/approve", nil)
	want(t, "ok/approve", status, body, 200, "Contract approved")

	owner := e.browser()
	owner.signIn("owner@wallet.example", testPW)
	status, body = owner.get("/portal/orgs/" + pid + "/billing")
	want(t, "ok/portal-contract", status, body, 200, "Your contract", "Monthly availability target 99.90 %",
		"Fraud losses: bank 70.00 %, partner 30.00 %", hash, `/billing/contracts/`+cid+`/agreements/1"`)
	status, ctype, got = owner.download("/portal/orgs/" + pid + "/billing/contracts/" + cid + "/agreements/1")
	if status != 200 || ctype != "application/pdf" || !bytes.Equal(got, doc) {
		t.Fatalf("owner download: %d %s %q", status, ctype, got)
	}
	viewer := e.member(ownerID, pid, "viewer@wallet.example", partners.RoleViewer)
	status, body = viewer.get("/portal/orgs/" + pid + "/billing")
	want(t, "ok/viewer-sees-hash", status, body, 200, hash, "owners can download the signed agreements")
	status, body = viewer.get("/portal/orgs/" + pid + "/billing/contracts/" + cid + "/agreements/1")
	want(t, "fail/viewer-download", status, body, 403, "Only the organisation&#39;s owners may download the signed agreement.")

	other := e.browser()
	other.signIn("owner@other.example", testPW)
	status, body = other.get("/portal/orgs/" + otherPID + "/billing/contracts/" + cid + "/agreements/1")
	want(t, "fail/other-partner", status, body, 404, "No signed agreement for that version.")
	if strings.Contains(body, hash) {
		t.Fatal("another partner saw the hash")
	}
	status, body = owner.get("/portal/orgs/" + pid + "/billing/contracts/" + cid + "/agreements/2")
	want(t, "fail/unapproved-version", status, body, 404, "No signed agreement for that version.")
}
