package exit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/webhooks"
)

// ExportFormat names the archive's layout (its "format" field).
const ExportFormat = "bankbridge.partner-export/1"

// archive is the data export: what the partner had on the platform, without
// its customers' personal data (consents and payments as metadata: ids,
// types, statuses, amounts, times; no customer, account or payee).
type archive struct {
	Format      string                     `json:"format"`
	GeneratedAt time.Time                  `json:"generated_at"`
	Partner     archivePartner             `json:"organisation"`
	Termination archiveTermination         `json:"termination"`
	Apps        []archiveApp               `json:"apps"`
	Contracts   []archiveContract          `json:"contracts"`
	Statements  []contracts.Statement      `json:"statements"`
	Consents    []archiveConsent           `json:"consents"`
	Payments    []archivePayment           `json:"payments"`
	Webhooks    []webhooks.DeliverySummary `json:"webhook_deliveries"`
}

type archivePartner struct {
	ID            string    `json:"id"`
	LegalName     string    `json:"legal_name"`
	TradingName   string    `json:"trading_name"`
	CompanyNumber string    `json:"company_number"`
	Country       string    `json:"country"`
	LicenceNumber string    `json:"licence_number"`
	Website       string    `json:"website"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
}

type archiveTermination struct {
	ID          string    `json:"id"`
	Reason      string    `json:"reason"`
	NoticeDays  int       `json:"notice_days"`
	EffectiveAt time.Time `json:"effective_at"`
	Timeline    Timeline  `json:"timeline"`
}

type archiveApp struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Environment  string    `json:"environment"`
	Status       string    `json:"status"`
	RedirectURIs []string  `json:"redirect_uris"`
	Scopes       []string  `json:"scopes"`
	CreatedAt    time.Time `json:"created_at"`
}

type archiveContract struct {
	contracts.Contract
	Versions []contracts.Version `json:"versions"`
}

type archiveConsent struct {
	ID              string       `json:"id"`
	Type            string       `json:"type"`
	AppID           string       `json:"app_id"`
	Environment     string       `json:"environment"`
	Status          string       `json:"status"`
	Permissions     []string     `json:"permissions,omitempty"`
	Datasets        []string     `json:"datasets,omitempty"`
	Amount          *money.Money `json:"amount,omitempty"`
	ExpiresAt       *time.Time   `json:"expires_at,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
	StatusUpdatedAt time.Time    `json:"status_updated_at"`
}

type archivePayment struct {
	ID              string      `json:"id"`
	ConsentID       string      `json:"consent_id"`
	AppID           string      `json:"app_id"`
	Environment     string      `json:"environment"`
	Amount          money.Money `json:"amount"`
	Status          string      `json:"status"`
	CreatedAt       time.Time   `json:"created_at"`
	StatusUpdatedAt time.Time   `json:"status_updated_at"`
}

// buildArchive reads everything the export holds.
func (s *Service) buildArchive(ctx context.Context, e *Exit) ([]byte, error) {
	p, err := s.cfg.Partners.Partner(ctx, e.PartnerID)
	if err != nil {
		return nil, err
	}
	a := archive{Format: ExportFormat, GeneratedAt: s.clock(),
		Partner: archivePartner{ID: p.ID, LegalName: p.LegalName, TradingName: p.TradingName, CompanyNumber: p.CompanyNumber,
			Country: p.Country, LicenceNumber: p.LicenceNumber, Website: p.Website, Status: string(p.Status), CreatedAt: p.CreatedAt.UTC()},
		Termination: archiveTermination{ID: e.ID, Reason: e.Reason, NoticeDays: e.NoticeDays, EffectiveAt: e.EffectiveAt.UTC(), Timeline: e.Timeline()},
		Apps:        []archiveApp{}, Contracts: []archiveContract{}, Statements: []contracts.Statement{},
		Consents: []archiveConsent{}, Payments: []archivePayment{}}
	apps, err := s.cfg.Partners.PartnerApps(ctx, e.PartnerID)
	if err != nil {
		return nil, err
	}
	for _, x := range apps {
		a.Apps = append(a.Apps, archiveApp{ID: x.ID, Name: x.Name, Environment: string(x.Environment), Status: x.Status,
			RedirectURIs: x.RedirectURIs, Scopes: x.Scopes, CreatedAt: x.CreatedAt.UTC()})
	}
	cs, err := s.cfg.Contracts.Contracts(ctx, contracts.ContractFilter{PartnerID: e.PartnerID})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		vs, err := s.cfg.Contracts.Versions(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		a.Contracts = append(a.Contracts, archiveContract{Contract: c, Versions: vs})
	}
	sts, err := s.cfg.Contracts.Statements(ctx, e.PartnerID)
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		full, err := s.cfg.Contracts.Statement(ctx, e.PartnerID, st.ID)
		if err != nil {
			return nil, err
		}
		a.Statements = append(a.Statements, full)
	}
	consents, err := s.cfg.Consents.PartnerConsentsAll(ctx, e.PartnerID)
	if err != nil {
		return nil, err
	}
	for _, c := range consents {
		x := archiveConsent{ID: c.ID, Type: c.Type, AppID: c.ClientID, Environment: string(c.Environment), Status: c.Status,
			Permissions: c.Permissions, Datasets: c.Datasets, CreatedAt: c.CreatedAt.UTC(), StatusUpdatedAt: c.StatusUpdatedAt.UTC()}
		if c.Amount.Currency != "" {
			amt := c.Amount
			x.Amount = &amt
		}
		if !c.ExpiresAt.IsZero() {
			t := c.ExpiresAt.UTC()
			x.ExpiresAt = &t
		}
		a.Consents = append(a.Consents, x)
	}
	pays, err := s.cfg.Consents.PartnerPaymentsAll(ctx, e.PartnerID)
	if err != nil {
		return nil, err
	}
	for _, x := range pays {
		a.Payments = append(a.Payments, archivePayment{ID: x.ID, ConsentID: x.ConsentID, AppID: x.ClientID, Environment: string(x.Environment),
			Amount: x.Amount, Status: x.Status, CreatedAt: x.CreatedAt.UTC(), StatusUpdatedAt: x.StatusUpdatedAt.UTC()})
	}
	if a.Webhooks, err = s.cfg.Webhooks.PartnerDeliverySummary(ctx, e.PartnerID); err != nil {
		return nil, err
	}
	return json.MarshalIndent(a, "", "  ")
}

func (s *Service) stepExport(ctx context.Context, e *Exit, _ map[string]StepRecord) error {
	b, err := s.buildArchive(ctx, e)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := s.record(ctx, tx, e, StepDataExported, map[string]any{"sha256": h, "bytes": len(b)}); err != nil {
			return err
		}
		return internal(tx.Create(&exportRow{ExitID: e.ID, PartnerID: e.PartnerID, Archive: string(b), Sha256: h, CreatedAt: s.clock()}).Error,
			"store export")
	})
}

func (s *Service) exportOf(ctx context.Context, partnerID string) (*Export, error) {
	var r exportRow
	err := s.db.WithContext(ctx).Where("partner_id = ?", partnerID).Order("created_at DESC").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.New(problem.CodeNotFound, "no data export of partner %s is available", partnerID)
	}
	if err != nil {
		return nil, internal(err, "load export")
	}
	return &Export{ExitID: r.ExitID, PartnerID: r.PartnerID, Archive: []byte(r.Archive), SHA256: r.Sha256, CreatedAt: r.CreatedAt.UTC()}, nil
}

// ExportForOwner returns the partner's data export to one of its owners.
// Errors: CodeNotFound (not a member of the partner — its existence is not
// revealed — or no export yet, or erased), CodeForbidden (a member who is
// not an owner).
func (s *Service) ExportForOwner(ctx context.Context, userID, partnerID string) (*Export, error) {
	_, role, err := s.cfg.Partners.PartnerForMember(ctx, userID, partnerID)
	if err != nil {
		return nil, err
	}
	if role != partners.RoleOwner {
		return nil, problem.New(problem.CodeForbidden, "only the organisation's owners may download its data export")
	}
	return s.exportOf(ctx, partnerID)
}

// ExportForStaff returns a partner's data export to staff who may read
// partners. Errors: CodeForbidden, CodeNotFound.
func (s *Service) ExportForStaff(ctx context.Context, staffID, partnerID string) (*Export, error) {
	if err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		_, err := s.cfg.Staff.Require(tx, staffID, staff.ActPartnersRead)
		return err
	}); err != nil {
		return nil, err
	}
	return s.exportOf(ctx, partnerID)
}
