package contracts

// The contract state machine as data. A contract has a status (draft,
// pending_approval, active, expired, terminated) and a latest version with a
// status of its own (draft, pending_approval, active); each state change of
// the Service is an event that moves both, and both moves must be in the
// tables below. Superseded is not in them: an earlier active version becomes
// superseded as a side effect of approving a later one, and is never the
// latest.

import "github.com/bankbridge/bankbridge/partners/staff"

// event is something that changes a contract's status.
type event string

// The events, one per state-changing Service method (ExpireDue fires expire or
// renew).
const (
	evDraft     event = "draft"     // Draft: a new contract with version 1
	evEdit      event = "edit"      // Update
	evSubmit    event = "submit"    // Submit
	evApprove   event = "approve"   // Approve
	evReject    event = "reject"    // Reject
	evTerminate event = "terminate" // Terminate
	evExpire    event = "expire"    // ExpireDue, without auto-renewal
	evRenew     event = "renew"     // ExpireDue, with auto-renewal
)

// transition is one allowed edge: a contract in status from may take event ev
// and is then in status to. needs is the staff action the actor must be
// allowed (see authorize); "" for the platform's own events.
type transition struct {
	from  string
	ev    event
	to    string
	needs staff.Action
}

// transitions is every allowed contract edge; anything not listed is refused.
// from "" is a contract that does not exist yet.
var transitions = []transition{
	{"", evDraft, StatusDraft, staff.ActContractsDraft},
	{StatusDraft, evEdit, StatusDraft, staff.ActContractsEdit},
	{StatusActive, evEdit, StatusActive, staff.ActContractsEdit},
	{StatusDraft, evSubmit, StatusPendingApproval, staff.ActContractsSubmit},
	{StatusActive, evSubmit, StatusActive, staff.ActContractsSubmit},
	{StatusPendingApproval, evApprove, StatusActive, staff.ActContractsApprove},
	{StatusActive, evApprove, StatusActive, staff.ActContractsApprove},
	{StatusPendingApproval, evReject, StatusDraft, staff.ActContractsReject},
	{StatusActive, evReject, StatusActive, staff.ActContractsReject},
	{StatusActive, evTerminate, StatusTerminated, staff.ActContractsTerminate},
	{StatusActive, evExpire, StatusExpired, ""},
	{StatusActive, evRenew, StatusActive, ""},
}

// versionTransitions is every allowed edge of a contract's latest version
// (its status before and after the event). Editing an active latest version
// adds version n+1 as a draft, which becomes the latest.
var versionTransitions = []transition{
	{"", evDraft, StatusDraft, staff.ActContractsDraft},
	{StatusDraft, evEdit, StatusDraft, staff.ActContractsEdit},
	{StatusActive, evEdit, StatusDraft, staff.ActContractsEdit},
	{StatusDraft, evSubmit, StatusPendingApproval, staff.ActContractsSubmit},
	{StatusPendingApproval, evApprove, StatusActive, staff.ActContractsApprove},
	{StatusPendingApproval, evReject, StatusDraft, staff.ActContractsReject},
}

// CanTransition reports whether some event moves a contract from status from
// to status to (from "" is a contract not created yet).
func CanTransition(from, to string) bool {
	for _, t := range transitions {
		if t.from == from && t.to == to {
			return true
		}
	}
	return false
}

// next is the status a contract in status from is in after ev, and whether
// ev is allowed from there.
func next(from string, ev event) (string, bool) {
	return lookup(transitions, from, ev)
}

// nextVersion is the status of the latest version after ev when it is in
// status from, and whether ev is allowed from there.
func nextVersion(from string, ev event) (string, bool) {
	return lookup(versionTransitions, from, ev)
}

func lookup(table []transition, from string, ev event) (string, bool) {
	for _, t := range table {
		if t.from == from && t.ev == ev {
			return t.to, true
		}
	}
	return "", false
}

// needs is the staff action ev requires ("" for the platform's own events).
func needs(ev event) staff.Action {
	for _, t := range transitions {
		if t.ev == ev {
			return t.needs
		}
	}
	return ""
}
