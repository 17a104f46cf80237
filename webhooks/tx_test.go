package webhooks

// Read-then-write transactions (Service.tx) serialise on SQLite instead of
// failing with SQLITE_BUSY / SQLITE_BUSY_SNAPSHOT under concurrent writers.

import (
	"context"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/dbtest"
)

func TestTxSerialisesReadThenWrite(t *testing.T) {
	d := dbtest.MustSQLite(t)
	s := mustService(t, d, nil)
	d.Exec("CREATE TABLE zz (id INTEGER PRIMARY KEY, v INTEGER)")
	d.Exec("INSERT INTO zz VALUES (1, 0)")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				err := s.tx(context.Background(), func(tx *gorm.DB) error {
					var v int
					if err := tx.Raw("SELECT v FROM zz WHERE id = 1").Scan(&v).Error; err != nil {
						return err
					}
					time.Sleep(100 * time.Microsecond)
					return tx.Exec("UPDATE zz SET v = ? WHERE id = 1", v+1).Error
				})
				if err != nil {
					t.Errorf("g%d i%d: %v", g, i, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	var v int
	d.Raw("SELECT v FROM zz WHERE id = 1").Scan(&v)
	if v != 200 {
		t.Fatalf("v = %d", v)
	}
}
