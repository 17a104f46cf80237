package contracts

// Edge is one row of a transition table, as the tests of package
// contracts_test see it.
type Edge struct{ From, Event, To, Needs string }

func edges(table []transition) []Edge {
	out := make([]Edge, len(table))
	for i, t := range table {
		out[i] = Edge{From: t.from, Event: string(t.ev), To: t.to, Needs: string(t.needs)}
	}
	return out
}

// ContractEdges and VersionEdges are the contract and latest-version tables.
var (
	ContractEdges = edges(transitions)
	VersionEdges  = edges(versionTransitions)
)
