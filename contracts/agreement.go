package contracts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
)

// The signed agreement: each contract version carries its own signed
// document, a PDF of at most MaxAgreementBytes recognised by its magic bytes
// ("%PDF-"), stored in the database (contract_documents.content, one row per
// version) with its SHA-256. Keeping it in the database keeps the document in
// the transaction that records it, in backups and on both engines without a
// second store; at 10 MB per version that is affordable. It can be attached or
// replaced while the version is a draft or pending approval; whoever attaches
// it counts as one of the version's writers, so they cannot also approve it.
// With Options.RequireSignedAgreement (the platform's setting) a version
// without its document cannot be approved. The audit entries carry the hash.

// MaxAgreementBytes is the largest signed agreement accepted (10 MiB).
const MaxAgreementBytes = 10 << 20

// AgreementContentType is the only document type accepted.
const AgreementContentType = "application/pdf"

// Agreement is a version's signed agreement without its content.
type Agreement struct {
	ContractID  string    `json:"contract_id"`
	Version     int       `json:"version"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"` // hex
	UploadedBy  string    `json:"uploaded_by"`
	UploadedAt  time.Time `json:"uploaded_at"`
}

type documentRow struct {
	ContractID  string `gorm:"primaryKey"`
	Version     int    `gorm:"primaryKey;autoIncrement:false"`
	Filename    string
	ContentType string
	SizeBytes   int64
	Sha256      string
	Content     []byte
	UploadedBy  string
	UploadedAt  time.Time
}

func (documentRow) TableName() string { return "contract_documents" }

func (r documentRow) agreement() Agreement {
	return Agreement{ContractID: r.ContractID, Version: r.Version, Filename: r.Filename, ContentType: r.ContentType,
		Size: r.SizeBytes, SHA256: r.Sha256, UploadedBy: r.UploadedBy, UploadedAt: r.UploadedAt.UTC()}
}

// cleanFilename keeps the base name, printable characters only, at most 200
// characters; "agreement.pdf" when nothing is left.
func cleanFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == '"' || r == '/' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	if name == "" || name == "." || name == ".." {
		return "agreement.pdf"
	}
	return name
}

// UploadAgreement attaches the signed agreement (a PDF) to the contract's
// latest version, replacing the one attached before, while that version is a
// draft or pending approval; the actor becomes one of the version's writers.
// Refusals: CodeForbidden (role, as editing terms), CodeNotFound,
// CodeValidation (empty, over MaxAgreementBytes, not a PDF),
// CodeInvalidState (the latest version is active or superseded, or the
// contract is expired or terminated).
func (s *Service) UploadAgreement(ctx context.Context, actor Actor, contractID, filename string, content []byte) (Agreement, error) {
	if err := authorize(actor, needs(evEdit)); err != nil {
		return Agreement{}, err
	}
	var f fieldErrors
	switch {
	case len(content) == 0:
		f.add("document", "is required")
	case len(content) > MaxAgreementBytes:
		f.add("document", "must be at most %d bytes (10 MB)", MaxAgreementBytes)
	case !bytes.HasPrefix(content, []byte("%PDF-")):
		f.add("document", "must be a PDF file")
	}
	if err := f.err("signed agreement"); err != nil {
		return Agreement{}, err
	}
	sum := sha256.Sum256(content)
	row := documentRow{ContractID: contractID, Filename: cleanFilename(filename), ContentType: AgreementContentType,
		SizeBytes: int64(len(content)), Sha256: hex.EncodeToString(sum[:]), Content: content, UploadedBy: actor.ID, UploadedAt: s.now()}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := s.lockContract(ctx, tx, contractID)
		if err != nil {
			return err
		}
		if c.Status == StatusExpired || c.Status == StatusTerminated {
			return invalidState("contract %s is %s; its agreement cannot change", c.ID, c.Status)
		}
		v, err := s.versionRow(ctx, tx, c.ID, c.LatestVersion)
		if err != nil {
			return err
		}
		if v.Status != StatusDraft && v.Status != StatusPendingApproval {
			return invalidState("version %d of contract %s is %s; draft a new version to attach another signed agreement", v.Version, c.ID, v.Status)
		}
		row.Version = v.Version
		var prev []documentRow
		if err := tx.Select("sha256").Where("contract_id = ? AND version = ?", c.ID, v.Version).Limit(1).Find(&prev).Error; err != nil {
			return err
		}
		if err := tx.Where("contract_id = ? AND version = ?", c.ID, v.Version).Delete(&documentRow{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if !v.wrote(actor.ID) {
			// attaching the agreement is writing the version: its
			// approver must be someone else
			v.Editors = append(v.Editors, actor.ID)
			if err := tx.Model(&v).Select("editors").Updates(&v).Error; err != nil {
				return err
			}
		}
		details := map[string]any{"version": v.Version, "sha256": row.Sha256, "size": row.SizeBytes, "filename": row.Filename}
		if len(prev) > 0 {
			details["replaced_sha256"] = prev[0].Sha256
		}
		return audit.Record(ctx, tx, staffAudit(actor, "contract.agreement_attached", c.ID, c.PartnerID, details))
	})
	if err != nil {
		return Agreement{}, err
	}
	return row.agreement(), nil
}

// Agreements lists the signed agreements of a contract's versions, oldest
// version first. partnerID scopes the lookup as in Statement: another
// partner's contract is CodeNotFound.
func (s *Service) Agreements(ctx context.Context, partnerID, contractID string) ([]Agreement, error) {
	if _, err := s.scopedContract(ctx, partnerID, contractID); err != nil {
		return nil, err
	}
	var rows []documentRow
	if err := s.db.DB.WithContext(ctx).Omit("content").Where("contract_id = ?", contractID).Order("version").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Agreement, len(rows))
	for i, r := range rows {
		out[i] = r.agreement()
	}
	return out, nil
}

// AgreementDocument returns a version's signed agreement with its content.
// Scoped like Agreements; CodeNotFound when the version has none.
func (s *Service) AgreementDocument(ctx context.Context, partnerID, contractID string, version int) (Agreement, []byte, error) {
	if _, err := s.scopedContract(ctx, partnerID, contractID); err != nil {
		return Agreement{}, nil, err
	}
	var r documentRow
	err := s.db.DB.WithContext(ctx).Where("contract_id = ? AND version = ?", contractID, version).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Agreement{}, nil, notFound("signed agreement of contract", fmt.Sprintf("%s v%d", contractID, version))
	}
	if err != nil {
		return Agreement{}, nil, err
	}
	return r.agreement(), r.Content, nil
}

// scopedContract is Contract restricted to partnerID ("" for staff).
func (s *Service) scopedContract(ctx context.Context, partnerID, contractID string) (Contract, error) {
	c, err := s.Contract(ctx, contractID)
	if err == nil && partnerID != "" && c.PartnerID != partnerID {
		return Contract{}, notFound("contract", contractID)
	}
	return c, err
}

// agreementOf returns the hash of a version's signed agreement ("" for none).
func agreementOf(ctx context.Context, tx *gorm.DB, contractID string, version int) (string, error) {
	var rows []documentRow
	err := tx.WithContext(ctx).Select("sha256").Where("contract_id = ? AND version = ?", contractID, version).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return rows[0].Sha256, nil
}
