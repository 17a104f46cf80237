package contracts_test

import (
	"math/rand"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func TestLedgerPostRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := contracts.New(d, contracts.Options{}).Ledger
		e := func(acct, cur string, amt int64) contracts.Entry {
			return contracts.Entry{Account: acct, Currency: cur, Amount: amt}
		}
		fe := func(field, reason string) contracts.FieldError {
			return contracts.FieldError{Field: field, Reason: reason}
		}
		for _, tc := range []struct {
			name   string
			p      contracts.Posting
			detail string
			fields []contracts.FieldError
		}{
			{"fail/unbalanced", contracts.Posting{IdempotencyKey: "k1", Entries: []contracts.Entry{e("a", "EUR", 5), e("b", "EUR", -4)}},
				"posting does not balance: EUR entries sum to 1", nil},
			{"fail/balanced-across-currencies-only", contracts.Posting{IdempotencyKey: "k2",
				Entries: []contracts.Entry{e("a", "EUR", 5), e("b", "GBP", -5)}}, "posting does not balance: EUR entries sum to 5", nil},
			{"fail/single-entry", contracts.Posting{IdempotencyKey: "k3", Entries: []contracts.Entry{e("a", "EUR", 0)}},
				"posting is invalid", []contracts.FieldError{fe("entries", "a posting needs at least two entries"), fe("entries[0].amount", "must not be zero")}},
			{"fail/no-key-bad-entry", contracts.Posting{Entries: []contracts.Entry{e("", "eur", 5), e("b", "EUR", -5)}},
				"posting is invalid", []contracts.FieldError{fe("idempotency_key", "must be 1 to 200 characters"), fe("entries[0].account", "is required"),
					fe("entries[0].currency", "must be an ISO 4217 code of three upper-case letters")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := l.Post(ctx, nil, tc.p)
				if tc.fields != nil {
					wantFields(t, err, tc.detail, tc.fields...)
				} else {
					wantProblem(t, err, problem.CodeValidation, tc.detail)
				}
			})
		}
		totals, _ := l.Totals(ctx)
		if len(totals) != 0 {
			t.Fatalf("refused postings left entries: %v", totals)
		}

		p := contracts.Posting{IdempotencyKey: "dup", Description: "x", Entries: []contracts.Entry{e("a", "EUR", 7), e("b", "EUR", -7)}}
		first, err := l.Post(ctx, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		// same key, same entries in another order: the existing posting, nothing new
		p.Entries = []contracts.Entry{e("b", "EUR", -7), e("a", "EUR", 7)}
		second, err := l.Post(ctx, nil, p)
		if err != nil || second.ID != first.ID {
			t.Fatalf("replay %+v %v", second, err)
		}
		if b, _ := l.Balance(ctx, "a", "EUR"); b != 7 {
			t.Fatalf("double posted: %d", b)
		}
		p.Entries = []contracts.Entry{e("a", "EUR", 8), e("b", "EUR", -8)}
		_, err = l.Post(ctx, nil, p)
		wantProblem(t, err, problem.CodeIdempotencyKeyReused, `idempotency key "dup" was already used for a different posting`)

		// reversal
		_, err = l.Reverse(ctx, contracts.Actor{ID: "stf_pm", Role: staff.RolePartnerManager}, first.ID, "typo")
		wantProblem(t, err, problem.CodeForbidden, `role "partner_manager" may not reverse postings`)
		_, err = l.Reverse(ctx, maker, first.ID, "")
		wantFields(t, err, "a reversal needs a reason", fe("reason", "is required"))
		_, err = l.Reverse(ctx, maker, "pst_nope", "typo")
		wantProblem(t, err, problem.CodeNotFound, "posting pst_nope not found")
		rev, err := l.Reverse(ctx, maker, first.ID, "typo")
		if err != nil || rev.ReversesPostingID != first.ID || len(rev.Entries) != 2 || rev.Entries[0].Amount != -7 {
			t.Fatalf("reverse %+v %v", rev, err)
		}
		again, err := l.Reverse(ctx, maker, first.ID, "typo")
		if err != nil || again.ID != rev.ID {
			t.Fatalf("second reversal %+v %v", again, err)
		}
		if b, _ := l.Balance(ctx, "a", "EUR"); b != 0 {
			t.Fatalf("balance after reversal %d", b)
		}
		got, err := l.Posting(ctx, first.ID)
		if err != nil || got.IdempotencyKey != "dup" || len(got.Entries) != 2 {
			t.Fatalf("posting %+v %v", got, err)
		}
		es, err := l.Entries(ctx, "a", 0)
		if err != nil || len(es) != 2 || es[0].Amount != 7 || es[1].Amount != -7 || es[1].PostingID != rev.ID {
			t.Fatalf("entries %+v %v", es, err)
		}
	})
}

// TestLedgerAlwaysBalances posts random balanced postings (and random unbalanced
// ones, which must be refused) and random reversals, with a fixed seed, and checks
// every currency sums to zero and every account's balance matches a model.
func TestLedgerAlwaysBalances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		l := contracts.New(d, contracts.Options{}).Ledger
		rng := rand.New(rand.NewSource(20261001))
		accounts := []string{"partner_receivable:ptn_a", "partner_payable:ptn_a", "bank_api_revenue", "bank_payment_revenue", "revenue_share_expense", "bank_adjustments"}
		currencies := []string{"EUR", "GBP", "USD"}
		model := map[string]int64{}
		var posted []contracts.Posting
		for i := 0; i < 300; i++ {
			switch r := rng.Intn(10); {
			case r < 2 && len(posted) > 0: // reverse a random earlier posting
				orig := posted[rng.Intn(len(posted))]
				rev, err := l.Reverse(ctx, maker, orig.ID, "property test")
				if err != nil {
					t.Fatal(err)
				}
				if rev.ReversesPostingID != orig.ID {
					t.Fatalf("reversal %+v", rev)
				}
				already := false
				for _, p := range posted {
					if p.ID == rev.ID {
						already = true
					}
				}
				if !already {
					for _, e := range rev.Entries {
						model[e.Account+"/"+e.Currency] += e.Amount
					}
					posted = append(posted, rev)
				}
			case r < 3: // unbalanced: refused, nothing written
				cur := currencies[rng.Intn(len(currencies))]
				amt := rng.Int63n(1_000_000) + 1
				off := rng.Int63n(5) + 1
				_, err := l.Post(ctx, nil, contracts.Posting{IdempotencyKey: keyf("bad-%d", i), Entries: []contracts.Entry{
					{Account: accounts[0], Currency: cur, Amount: amt}, {Account: accounts[1], Currency: cur, Amount: -amt + off}}})
				wantProblem(t, err, problem.CodeValidation, keyf("posting does not balance: %s entries sum to %d", cur, off))
			default: // balanced, 2..6 legs over 1..2 currencies
				var es []contracts.Entry
				for _, cur := range currencies[:1+rng.Intn(2)] {
					legs := 1 + rng.Intn(4)
					var sum int64
					for j := 0; j < legs; j++ {
						amt := rng.Int63n(2_000_000) - 1_000_000
						if amt == 0 {
							amt = 1
						}
						sum += amt
						es = append(es, contracts.Entry{Account: accounts[rng.Intn(len(accounts))], Currency: cur, Amount: amt})
					}
					if sum == 0 {
						es = append(es, contracts.Entry{Account: accounts[0], Currency: cur, Amount: 1}, contracts.Entry{Account: accounts[1], Currency: cur, Amount: -1})
					} else {
						es = append(es, contracts.Entry{Account: accounts[rng.Intn(len(accounts))], Currency: cur, Amount: -sum})
					}
				}
				p, err := l.Post(ctx, nil, contracts.Posting{IdempotencyKey: keyf("p-%d", i), Entries: es})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					model[e.Account+"/"+e.Currency] += e.Amount
				}
				posted = append(posted, p)
			}
			if i%50 == 49 {
				totals, err := l.Totals(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for cur, sum := range totals {
					if sum != 0 {
						t.Fatalf("after %d steps %s sums to %d", i+1, cur, sum)
					}
				}
			}
		}
		for k, want := range model {
			acct, cur, _ := strings.Cut(k, "/")
			if got, _ := l.Balance(ctx, acct, cur); got != want {
				t.Errorf("balance %s = %d, model %d", k, got, want)
			}
		}
	})
}

// TestLedgerIsAppendOnly: neither the Ledger nor the Service offers a way to
// change or remove a posting, and no source file of the package updates or
// deletes a ledger row.
func TestLedgerIsAppendOnly(t *testing.T) {
	var names []string
	lt := reflect.TypeOf(&contracts.Ledger{})
	for i := 0; i < lt.NumMethod(); i++ {
		names = append(names, lt.Method(i).Name)
	}
	sort.Strings(names)
	if want := []string{"Balance", "Entries", "Post", "Posting", "PostingByKey", "Reverse", "Totals"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Ledger methods %v, want exactly %v", names, want)
	}
	st := reflect.TypeOf(&contracts.Service{})
	for i := 0; i < st.NumMethod(); i++ {
		n := st.Method(i).Name
		if strings.Contains(n, "Posting") || strings.Contains(n, "Entry") || strings.Contains(n, "Entries") || strings.Contains(n, "Ledger") {
			t.Errorf("Service exposes ledger method %s", n)
		}
	}
	files, _ := os.ReadDir(".")
	forbidden := regexp.MustCompile(`(?i)(update\s+ledger_|delete\s+from\s+ledger_|insert\s+or\s+replace\s+into\s+ledger_)`)
	gormWrite := regexp.MustCompile(`\.(Save|Delete|Update|Updates|UpdateColumn|UpdateColumns)\(`)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if m := forbidden.Find(src); m != nil {
			t.Errorf("%s: %q writes over the ledger", f.Name(), m)
		}
		if f.Name() == "ledger.go" {
			if m := gormWrite.Find(src); m != nil {
				t.Errorf("ledger.go: %q", m)
			}
		}
		for _, model := range []string{"postingRow{}", "entryRow{}"} {
			if f.Name() != "ledger.go" && strings.Contains(string(src), model) {
				t.Errorf("%s touches %s outside ledger.go", f.Name(), model)
			}
		}
	}
}

// TestLedgerRefusesRewritesInTheDatabase: below the code, the database itself
// refuses to update or delete ledger postings and entries (migration 0061),
// on both engines, with the trigger's message; appending and reversing work.
func TestLedgerRefusesRewritesInTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := contracts.New(d, contracts.Options{})
		p, err := s.Ledger.Post(ctx, nil, contracts.Posting{IdempotencyKey: "k1", Description: "fee",
			Entries: []contracts.Entry{{Account: "a", Currency: "EUR", Amount: 5}, {Account: "b", Currency: "EUR", Amount: -5}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, sql, want string }{
			{"fail/update-entry-amount", `UPDATE ledger_entries SET amount = amount * 2`, "history cannot be rewritten: UPDATE on ledger_entries is refused"},
			{"fail/update-entry-account", `UPDATE ledger_entries SET account = 'c' WHERE amount < 0`, "history cannot be rewritten: UPDATE on ledger_entries is refused"},
			{"fail/delete-entry", `DELETE FROM ledger_entries WHERE amount > 0`, "history cannot be rewritten: DELETE on ledger_entries is refused"},
			{"fail/update-posting", `UPDATE ledger_postings SET description = 'nothing to see'`, "history cannot be rewritten: UPDATE on ledger_postings is refused"},
			{"fail/update-posting-key", `UPDATE ledger_postings SET idempotency_key = 'k2'`, "history cannot be rewritten: UPDATE on ledger_postings is refused"},
			{"fail/delete-posting", `DELETE FROM ledger_postings`, "history cannot be rewritten: DELETE on ledger_postings is refused"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := d.Exec(tc.sql).Error
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%s: err %v, want the trigger's %q", tc.sql, err, tc.want)
				}
				got, err := s.Ledger.Posting(ctx, p.ID)
				if err != nil || got.Description != "fee" || got.IdempotencyKey != "k1" || len(got.Entries) != 2 ||
					got.Entries[0] != p.Entries[0] || got.Entries[1] != p.Entries[1] {
					t.Fatalf("posting changed: %+v %v", got, err)
				}
			})
		}
		if _, err := s.Ledger.Reverse(ctx, checker, p.ID, "posted in error"); err != nil {
			t.Fatal(err)
		}
		totals, _ := s.Ledger.Totals(ctx)
		if bal, _ := s.Ledger.Balance(ctx, "a", "EUR"); bal != 0 || totals["EUR"] != 0 {
			t.Fatalf("balance %d, totals %v", bal, totals)
		}
	})
}
