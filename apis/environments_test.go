package apis_test

import (
	"errors"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestEnvironmentsNeverMeet: sandbox apps reach only sandbox customers and
// production apps only production customers, even where sign-in is bypassed
// (the consent broker and the resource API check again), and no payment
// moves money between a sandbox and a production account. The production
// customer is named alice like the sandbox persona: each app gets its own.
func TestEnvironmentsNeverMeet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		b := e.svc.Broker()
		sbx := e.partner("ptn_env", environment.Sandbox)
		prd := e.partner("ptn_env", environment.Production) // the same partner, live
		alice, bob := e.customer("alice"), e.customer("bob")
		realAlice := e.productionCustomer("alice")
		cur, realCur := alice.account(core.AccountCurrent), realAlice.account(core.AccountCurrent)
		if alice.id == realAlice.id || cur.Environment != environment.Sandbox || realCur.Environment != environment.Production {
			t.Fatalf("sandbox alice %s %+v, production alice %s %+v", alice.id, cur, realAlice.id, realCur)
		}

		newConsent := func(p *partner) (string, []oauth.AuthorizationDetail) {
			r := e.do("POST", aisp+"/account-access-consents", p.token, accountConsentBody(allPerms...))
			wantStatus(t, r, 201)
			id := r.data(t)["ConsentId"].(string)
			return id, []oauth.AuthorizationDetail{{Type: apis.TypeAccountAccess, ConsentID: id}}
		}
		status := func(p *partner, id string) string {
			r := e.do("GET", aisp+"/account-access-consents/"+id, p.token, nil)
			wantStatus(t, r, 200)
			return r.data(t)["Status"].(string)
		}
		for _, tc := range []struct {
			name     string
			app      *partner
			customer *customer
			account  string
			env      environment.Environment // the app's environment, named in the error
		}{
			{"fail/production app, sandbox persona", prd, alice, cur.ID, environment.Production},
			{"fail/sandbox app, production customer", sbx, realAlice, realCur.ID, environment.Sandbox},
		} {
			want := "apis: the customer belongs to another environment: customer " + tc.customer.id + " is not a " + string(tc.env) + " customer"
			for _, step := range []struct {
				name string
				call func(det []oauth.AuthorizationDetail, id string) error
			}{
				{"describe", func(det []oauth.AuthorizationDetail, _ string) error {
					_, err := b.Describe(ctx, tc.app.client(), tc.customer.id, det)
					return err
				}},
				{"approve", func(det []oauth.AuthorizationDetail, id string) error {
					_, err := b.Decide(ctx, tc.app.client(), tc.customer.id, det, true, map[string][]string{id: {tc.account}}, nil)
					return err
				}},
				{"deny", func(det []oauth.AuthorizationDetail, _ string) error {
					_, err := b.Decide(ctx, tc.app.client(), tc.customer.id, det, false, nil, nil)
					return err
				}},
			} {
				t.Run(tc.name+"/"+step.name, func(t *testing.T) {
					e.t = t
					id, det := newConsent(tc.app)
					if err := b.CheckPushed(ctx, tc.app.client(), det); err != nil {
						t.Fatalf("CheckPushed: %v", err)
					}
					err := step.call(det, id)
					if !errors.Is(err, apis.ErrWrongEnvironment) || err.Error() != want {
						t.Fatalf("err = %v\nwant %s", err, want)
					}
					if s := status(tc.app, id); s != apis.StatusAwaitingAuthorisation {
						t.Fatalf("consent %s is %s after a refused decision", id, s)
					}
				})
			}
		}

		t.Run("fail/sandbox customer picks a production account", func(t *testing.T) {
			e.t = t
			id, det := newConsent(sbx)
			_, err := b.Decide(ctx, sbx.client(), alice.id, det, true, map[string][]string{id: {realCur.ID}}, nil)
			if want := "invalid_authorization_details: account " + realCur.ID + " is not one of the customer's accounts"; err == nil || err.Error() != want {
				t.Fatalf("err = %v, want %s", err, want)
			}
		})

		t.Run("ok/each app reads its own alice", func(t *testing.T) {
			e.t = t
			for _, tc := range []struct {
				app      *partner
				customer *customer
				account  core.Account
			}{{sbx, alice, cur}, {prd, realAlice, realCur}} {
				_, tok := tc.app.accountConsent(tc.customer, allPerms, tc.account.ID)
				r := e.do("GET", aisp+"/accounts", tok, nil)
				wantStatus(t, r, 200)
				accs := r.data(t)["Account"].([]any)
				if len(accs) != 1 || accs[0].(map[string]any)["AccountId"] != tc.account.ID {
					t.Fatalf("%s app reads %v, want %s", tc.app.envn, accs, tc.account.ID)
				}
			}
		})

		// A consent bound to a customer who is (now) of the other environment:
		// as production apps' consents of customers who became sandbox
		// customers with migration 0032. Nothing of theirs is read any more.
		t.Run("fail/consent bound across environments reads nothing", func(t *testing.T) {
			e.t = t
			moved := e.productionCustomer("moved.customer")
			acc := moved.account(core.AccountCurrent)
			cid, tok := prd.accountConsent(moved, allPerms, acc.ID)
			wantStatus(t, e.do("GET", aisp+"/accounts", tok, nil), 200)
			for _, table := range []string{"core_customers", "core_accounts"} {
				col := map[string]string{"core_customers": "id", "core_accounts": "customer_id"}[table]
				if err := e.d.Exec("UPDATE "+table+" SET environment = ? WHERE "+col+" = ?", environment.Sandbox, moved.id).Error; err != nil {
					t.Fatal(err)
				}
			}
			for _, path := range []string{"/accounts", "/accounts/" + acc.ID, "/accounts/" + acc.ID + "/balances", "/accounts/" + acc.ID + "/transactions"} {
				wantProblem(t, e.do("GET", aisp+path, tok, nil), 403, "consent_not_authorised",
					"consent "+cid+" was authorised by a customer of another environment")
			}
		})

		t.Run("fail/consent of a customer the bank no longer knows", func(t *testing.T) {
			e.t = t
			gone := e.productionCustomer("gone.customer")
			cid, tok := prd.accountConsent(gone, allPerms, gone.account(core.AccountCurrent).ID)
			if err := e.d.Exec("DELETE FROM core_customers WHERE id = ?", gone.id).Error; err != nil {
				t.Fatal(err)
			}
			wantProblem(t, e.do("GET", aisp+"/accounts", tok, nil), 403, "consent_not_authorised",
				"consent "+cid+" was authorised by a customer the bank no longer knows")
		})

		// The payment API: a sandbox app's payment to the identification of a
		// production account (and the reverse) is rejected by the core as an
		// unknown account at this bank and moves no money on either side.
		for _, tc := range []struct {
			name     string
			app      *partner
			debtor   *customer
			creditor core.Account
		}{
			{"fail/sandbox payment to a production account", sbx, alice, realCur},
			{"fail/production payment to a sandbox account", prd, realAlice, bob.account(core.AccountCurrent)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				debtor := tc.debtor.account(core.AccountCurrent).ID
				debtorBefore, creditorBefore := e.balanceOf(debtor), e.balanceOf(tc.creditor.ID)
				entriesBefore := e.rows("core_transactions", "account_id = ?", tc.creditor.ID)
				pid, st := tc.app.pay(tc.debtor, "5.00", tc.creditor.Identification, "NEVER-MEET")
				if st != apis.PaymentRejected {
					t.Fatalf("payment %s is %s, want %s", pid, st, apis.PaymentRejected)
				}
				r := e.do("GET", pisp+"/domestic-payments/"+pid+"/payment-details", tc.app.token, nil)
				wantStatus(t, r, 200)
				sd := r.data(t)["PaymentStatus"].([]any)[0].(map[string]any)["StatusDetail"].(map[string]any)
				if sd["StatusReason"] != "ProprietaryRejection" || sd["StatusReasonDescription"] != core.RejectCreditorInvalid {
					t.Fatalf("status detail %v", sd)
				}
				if got := e.balanceOf(tc.creditor.ID); got != creditorBefore {
					t.Fatalf("the other environment's account moved: %d → %d", creditorBefore, got)
				}
				if n := e.rows("core_transactions", "account_id = ?", tc.creditor.ID); n != entriesBefore {
					t.Fatalf("the other environment's account has %d entries, had %d", n, entriesBefore)
				}
				if got := e.balanceOf(debtor); got != debtorBefore {
					t.Fatalf("debtor moved: %d → %d", debtorBefore, got)
				}
			})
		}
	})
}
