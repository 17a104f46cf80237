package reviews

import (
	"encoding/json"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/partners"
)

// incident reads a lifecycle audit event as an Incident: the partner's
// suspension, reinstatement (from suspended) or termination, and its apps'
// suspension and reinstatement. Other events are not incidents.
func incident(e audit.Event) (Incident, bool) {
	var d struct{ From, To, Reason string }
	_ = json.Unmarshal([]byte(e.Details), &d)
	in := Incident{At: e.At.UTC(), Object: e.ObjectID, Reason: d.Reason}
	switch {
	case e.Action == "partner.status_changed" && d.To == string(partners.StatusSuspended):
		in.Kind = "partner.suspended"
	case e.Action == "partner.status_changed" && d.To == string(partners.StatusTerminated):
		in.Kind = "partner.terminated"
	case e.Action == "partner.status_changed" && d.From == string(partners.StatusSuspended):
		in.Kind = "partner.reinstated"
	case e.Action == "app."+partners.AppSuspended:
		in.Kind = "app.suspended"
	case e.Action == "app."+partners.AppActive && d.From == partners.AppSuspended:
		in.Kind = "app.reinstated"
	default:
		return in, false
	}
	return in, true
}
