package apis

import "context"

// SandboxDatasets is the documented sandbox allow-list: a partner without an
// active contract (every partner before go-live, so every sandbox-only
// partner) may receive these datasets from the sandbox's synthetic customers.
var SandboxDatasets = []string{DatasetTransactionInsights, DatasetRiskSignals}

// ContractScope answers, per partner, whether a contract is active and which
// datasets its data-sharing scope allows (implemented by *contracts.Service).
type ContractScope interface {
	HasActiveContract(ctx context.Context, partnerID string) (bool, error)
	AllowedDatasets(ctx context.Context, partnerID string) ([]string, error)
}

// ContractDatasetPolicy is the platform's DatasetPolicy: a partner with an
// active contract receives exactly its contract's data-sharing scope, in
// sandbox and production alike; a partner without one receives
// SandboxDatasets. Production apps exist only for contracted partners
// (go-live needs an active contract), so production traffic is always bound
// by the contract.
type ContractDatasetPolicy struct{ Contracts ContractScope }

// AllowedDatasets implements DatasetPolicy.
func (p ContractDatasetPolicy) AllowedDatasets(ctx context.Context, partnerID string) ([]string, error) {
	ok, err := p.Contracts.HasActiveContract(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return SandboxDatasets, nil
	}
	return p.Contracts.AllowedDatasets(ctx, partnerID)
}
