package webhooks

import (
	"encoding/json"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
)

// Rows as stored (see migration 0050_webhooks.sql).

type endpointRow struct {
	ID               string `gorm:"primaryKey"`
	PartnerID        string
	AppID            string
	Environment      environment.Environment
	URL              string `gorm:"column:url"`
	Description      string
	EventTypes       string // JSON array
	Enabled          bool
	DisabledReason   string
	Signing          string
	SecretSealed     string
	PublicKey        string
	PrevSecretSealed string
	PrevPublicKey    string
	PrevValidUntil   *time.Time
	FailingSince     *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// TableName implements gorm's tabler.
func (endpointRow) TableName() string { return "webhook_endpoints" }

func (r *endpointRow) types() []string {
	var out []string
	_ = json.Unmarshal([]byte(r.EventTypes), &out)
	return out
}

func (r *endpointRow) subscribes(t string) bool {
	for _, x := range r.types() {
		if x == t {
			return true
		}
	}
	return false
}

func (r *endpointRow) public(now time.Time) Endpoint {
	e := Endpoint{
		ID: r.ID, PartnerID: r.PartnerID, AppID: r.AppID, Environment: r.Environment, URL: r.URL,
		Description: r.Description, EventTypes: r.types(), Enabled: r.Enabled, DisabledReason: r.DisabledReason,
		Signing: r.Signing, PublicKey: r.PublicKey, FailingSince: utcp(r.FailingSince),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	if r.PublicKey != "" {
		e.KeyID = KeyID(r.PublicKey)
	}
	if r.PrevValidUntil != nil && r.PrevValidUntil.After(now) {
		e.PreviousValidUntil = utcp(r.PrevValidUntil)
		e.PreviousPublicKey = r.PrevPublicKey
	}
	return e
}

type eventRow struct {
	ID        string `gorm:"primaryKey"`
	Type      string
	PartnerID string
	AppID     string
	Payload   string
	CreatedAt time.Time
}

// TableName implements gorm's tabler.
func (eventRow) TableName() string { return "webhook_events" }

type deliveryRow struct {
	ID             string `gorm:"primaryKey"`
	EventID        string
	EndpointID     string
	PartnerID      string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	ClaimedBy      string
	LeaseUntil     *time.Time
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    *time.Time
}

// TableName implements gorm's tabler.
func (deliveryRow) TableName() string { return "webhook_deliveries" }

func (r *deliveryRow) public() Delivery {
	return Delivery{ID: r.ID, EventID: r.EventID, EndpointID: r.EndpointID, Status: r.Status, Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt.UTC(), LastStatusCode: r.LastStatusCode, LastError: r.LastError,
		CreatedAt: r.CreatedAt.UTC(), DeliveredAt: utcp(r.DeliveredAt)}
}

type attemptRow struct {
	ID              int64 `gorm:"primaryKey;autoIncrement"`
	DeliveryID      string
	EndpointID      string
	EventID         string
	EventType       string
	PartnerID       string
	Attempt         int
	At              time.Time
	StatusCode      int
	LatencyMS       int64 `gorm:"column:latency_ms"`
	ResponseExcerpt string
	Error           string
	NextRetryAt     *time.Time
	Dispatcher      string
}

// TableName implements gorm's tabler.
func (attemptRow) TableName() string { return "webhook_attempts" }

func (r *attemptRow) public() Attempt {
	return Attempt{ID: r.ID, DeliveryID: r.DeliveryID, EndpointID: r.EndpointID, EventID: r.EventID,
		EventType: r.EventType, Attempt: r.Attempt, At: r.At.UTC(), StatusCode: r.StatusCode, LatencyMS: r.LatencyMS,
		ResponseExcerpt: r.ResponseExcerpt, Error: r.Error, NextRetryAt: utcp(r.NextRetryAt), Dispatcher: r.Dispatcher}
}

type noticeRow struct {
	ID        string `gorm:"primaryKey"`
	PartnerID string
	AppID     string
	Kind      string
	ObjectID  string
	Subject   string
	Body      string
	CreatedAt time.Time
	ReadAt    *time.Time
}

// TableName implements gorm's tabler.
func (noticeRow) TableName() string { return "notices" }

func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
