package mail_test

import (
	"context"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/mail"
)

func TestEnqueueAndList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for _, to := range []string{"a@x.example", "b@x.example", "a@x.example"} {
			if _, err := mail.Enqueue(ctx, d.DB, mail.Message{Recipient: to, Template: "t", Subject: "s", Body: "b"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := mail.List(ctx, d.DB, "a@x.example", 0)
		if err != nil || len(got) != 2 {
			t.Fatalf("got %d, %v", len(got), err)
		}
	})
}
