package apis_test

import (
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/apistest"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestGormStoreConformance runs the Store conformance suite against the gorm
// store on every engine.
func TestGormStoreConformance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		apistest.Run(t, func(*testing.T) apis.Store { return apis.NewGormStore(d) })
	})
}
