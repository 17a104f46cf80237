package screening_test

import (
	"testing"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/risk/screening"
	"github.com/bankbridge/bankbridge/risk/screening/screeningtest"
)

func TestGormStoreConformance(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			screeningtest.Run(t, func(t *testing.T) screening.Store { return screening.NewGormStore(e.Open(t)) })
		})
	}
}
