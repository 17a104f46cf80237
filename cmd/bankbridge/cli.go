package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth/sca"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func init() {
	operatorCommands["partners create"] = (*Main).cmdPartnersCreate
	operatorCommands["apps create"] = (*Main).cmdAppsCreate
	operatorCommands["customers create"] = (*Main).cmdCustomersCreate
	operatorCommands["keys rotate"] = (*Main).cmdKeysRotate
	operatorCommands["staff create"] = (*Main).cmdStaffCreate
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// explain turns a domain refusal into a readable CLI error.
func explain(err error) error {
	var p *problem.Error
	if errors.As(err, &p) && p.Code != problem.CodeInternal {
		return fmt.Errorf("%s: %s", p.Code.Title(), p.Detail)
	}
	return err
}

func (m *Main) required(cmd string, pairs ...string) error {
	for i := 0; i < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			fmt.Fprintf(m.Stderr, "bankbridge %s: --%s is required\n", cmd, pairs[i])
			return errUsage
		}
	}
	return nil
}

func (m *Main) cmdPartnersCreate(ctx context.Context, args []string) error {
	var name string
	var asJSON bool
	c, err := m.parseCommon("partners create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the partner's legal name")
		fs.BoolVar(&asJSON, "json", false, "print the partner as JSON")
	})
	if err != nil {
		return err
	}
	if err := m.required("partners create", "name", name); err != nil {
		return err
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	pt, err := p.Services.Partners.CreatePartner(ctx, name)
	if err != nil {
		return explain(err)
	}
	out := map[string]any{"id": pt.ID, "name": pt.Name(), "status": pt.Status, "created_at": pt.CreatedAt}
	if asJSON {
		return m.printJSON(out)
	}
	fmt.Fprintf(m.Stdout, "created partner %s (%s), status %s\n", pt.ID, pt.Name(), pt.Status)
	return nil
}

func (m *Main) cmdAppsCreate(ctx context.Context, args []string) error {
	var (
		partnerID, env, name, jwksFile, jwksURI, scope string
		redirects                                      stringList
		asJSON, requireSigned                          bool
	)
	c, err := m.parseCommon("apps create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&partnerID, "partner", "", "the partner's id (ptn_…)")
		fs.StringVar(&env, "env", "sandbox", "sandbox or production")
		fs.StringVar(&name, "name", "", "the app's name, shown to customers")
		fs.Var(&redirects, "redirect-uri", "a redirect URI (repeatable)")
		fs.StringVar(&jwksFile, "jwks", "", "file holding the app's public JWK Set")
		fs.StringVar(&jwksURI, "jwks-uri", "", "or: https URL of the app's JWK Set")
		fs.StringVar(&scope, "scope", "openid accounts", "space-separated scopes the app may request")
		fs.BoolVar(&asJSON, "json", false, "print the app as JSON")
		fs.BoolVar(&requireSigned, "require-signed-requests", false, "refuse the app's payment requests without a UK OB x-jws-signature")
	})
	if err != nil {
		return err
	}
	if err := m.required("apps create", "partner", partnerID, "name", name); err != nil {
		return err
	}
	in := partners.AppInput{Name: name, Environment: environment.Environment(env), RedirectURIs: redirects, Scopes: strings.Fields(scope), JWKSURI: jwksURI,
		RequireSignedRequests: requireSigned}
	if jwksFile != "" {
		b, err := os.ReadFile(jwksFile)
		if err != nil {
			return err
		}
		in.JWKS = json.RawMessage(b)
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	app, err := p.Services.Partners.CreateAppAsOperator(ctx, partnerID, in)
	if err != nil {
		return explain(err)
	}
	out := map[string]any{"id": app.ID, "client_id": app.ID, "partner_id": app.PartnerID, "name": app.Name,
		"environment": app.Environment, "redirect_uris": app.RedirectURIs, "scope": strings.Join(app.Scopes, " "),
		"token_endpoint_auth_method": "private_key_jwt", "require_signed_requests": app.RequireSignedRequests, "status": app.Status, "created_at": app.CreatedAt}
	if asJSON {
		return m.printJSON(out)
	}
	fmt.Fprintf(m.Stdout, "created %s app %s (client_id %s) for partner %s\n", app.Environment, app.Name, app.ID, app.PartnerID)
	return nil
}

// cmdCustomersCreate creates a bank customer in the reference core, in the
// sandbox (the default: reachable by every partner's sandbox apps) or in
// production (reachable only by live partners' production apps). With
// --totp it also sets up an active authenticator app for the customer
// (sca.EnrollTOTP, a new random secret) and prints its secret and otpauth
// URI, once: they are stored only sealed.
func (m *Main) cmdCustomersCreate(ctx context.Context, args []string) error {
	var username, password, name, env, email string
	var asJSON, withTOTP bool
	c, err := m.parseCommon("customers create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "where the bank mails the customer (payment notices; default: none, nothing is mailed)")
		fs.StringVar(&username, "username", "", "the customer's bank login (unique per environment)")
		fs.StringVar(&password, "password", "", "the customer's password")
		fs.StringVar(&name, "name", "", "display name (default: the username)")
		fs.StringVar(&env, "env", string(environment.Sandbox), "sandbox (a test customer for partners' sandbox apps) or production (a real customer)")
		fs.BoolVar(&asJSON, "json", false, "print the customer as JSON")
		fs.BoolVar(&withTOTP, "totp", false, "also set up an authenticator app (TOTP) and print its secret and otpauth URI")
	})
	if err != nil {
		return err
	}
	if err := m.required("customers create", "username", username, "password", password); err != nil {
		return err
	}
	if !environment.Environment(env).Valid() {
		fmt.Fprintf(m.Stderr, "bankbridge customers create: --env must be sandbox or production, got %q\n", env)
		return errUsage
	}
	if err := core.CheckEmail(email); err != nil {
		fmt.Fprintf(m.Stderr, "bankbridge customers create: --email must be a plain address such as name@bank.example, got %q\n", email)
		return errUsage
	}
	if name == "" {
		name = username
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	cus, err := p.Services.Core.CreateCustomer(ctx, environment.Environment(env), username, password, name)
	if errors.Is(err, core.ErrUsernameTaken) {
		return fmt.Errorf("username %q is already taken in %s", username, env)
	}
	if err != nil {
		return explain(err)
	}
	if email != "" {
		if err := p.Services.Core.SetCustomerEmail(ctx, cus.ID, email); err != nil {
			return fmt.Errorf("customer %s (%s) was created, but its email was not set: %w", cus.Username, cus.ID, err)
		}
		cus.Email = email
	}
	out := map[string]any{"id": cus.ID, "username": cus.Username, "name": cus.DisplayName, "environment": cus.Environment,
		"email": cus.Email}
	var app sca.TOTPEnrollment
	if withTOTP {
		if app, err = p.Services.SCA.EnrollTOTP(ctx, cus.ID, cus.Username, ""); err != nil {
			return fmt.Errorf("customer %s (%s) was created, but its authenticator app was not set up: %w", cus.Username, cus.ID, err)
		}
		out["totp_secret"], out["otpauth_uri"] = app.Secret, app.URI
	}
	if asJSON {
		return m.printJSON(out)
	}
	fmt.Fprintf(m.Stdout, "created %s customer %s (%s)\n", cus.Environment, cus.Username, cus.ID)
	if withTOTP {
		fmt.Fprintf(m.Stdout, "authenticator app (TOTP) secret: %s\nenrol: %s\n", app.Secret, app.URI)
	}
	return nil
}

func (m *Main) cmdKeysRotate(ctx context.Context, args []string) error {
	var alg string
	c, err := m.parseCommon("keys rotate", args, func(fs *flag.FlagSet) {
		fs.StringVar(&alg, "alg", "ES256", "ES256 or PS256")
	})
	if err != nil {
		return err
	}
	if alg != "ES256" && alg != "PS256" {
		fmt.Fprintf(m.Stderr, "bankbridge keys rotate: --alg must be ES256 or PS256, got %q\n", alg)
		return errUsage
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	// Keep the old key published until everything it signed has expired: the
	// longest-lived thing is an id_token or access token; add a margin.
	keep := c.AccessTokenLifetime + time.Hour
	kid, err := p.Services.Keys.Rotate(ctx, alg, keep)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "new %s signing key %s is active; the previous key stays published for %s\n", alg, kid, keep)
	return nil
}

func (m *Main) cmdStaffCreate(ctx context.Context, args []string) error {
	var email, role string
	var asJSON bool
	c, err := m.parseCommon("staff create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the staff member's email")
		fs.StringVar(&role, "role", "", "admin, partner_manager, risk_officer, finance or auditor")
		fs.BoolVar(&asJSON, "json", false, "print as JSON")
	})
	if err != nil {
		return err
	}
	if err := m.required("staff create", "email", email, "role", role); err != nil {
		return err
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	ns, err := p.Services.Partners.Staff().Bootstrap(ctx, email, staff.Role(role))
	if err != nil {
		return explain(err)
	}
	out := map[string]any{"id": ns.Staff.ID, "email": ns.Staff.Email, "role": ns.Staff.Role,
		"one_time_password": ns.OneTimePassword, "totp_secret": ns.TOTPSecret, "otpauth_uri": ns.TOTPProvisionURI}
	if asJSON {
		return m.printJSON(out)
	}
	fmt.Fprintf(m.Stdout, "created staff %s (%s)\none-time password: %s\nTOTP secret: %s\nenrol: %s\n",
		ns.Staff.Email, ns.Staff.Role, ns.OneTimePassword, ns.TOTPSecret, ns.TOTPProvisionURI)
	return nil
}
