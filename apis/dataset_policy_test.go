package apis

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// scopeTable is a ContractScope over fixed answers.
type scopeTable struct {
	active map[string]bool
	scope  map[string][]string
	err    error
}

func (s scopeTable) HasActiveContract(_ context.Context, partnerID string) (bool, error) {
	return s.active[partnerID], s.err
}

func (s scopeTable) AllowedDatasets(_ context.Context, partnerID string) ([]string, error) {
	return s.scope[partnerID], nil
}

func TestContractDatasetPolicy(t *testing.T) {
	boom := errors.New("database down")
	contracted := scopeTable{active: map[string]bool{"ptn_c": true}, scope: map[string][]string{"ptn_c": {DatasetRiskSignals}}}
	for _, tc := range []struct {
		name    string
		scope   scopeTable
		partner string
		want    []string
		wantErr error
	}{
		{"ok/no contract gets the sandbox allow-list", contracted, "ptn_other", SandboxDatasets, nil},
		{"ok/contract scope replaces the allow-list", contracted, "ptn_c", []string{DatasetRiskSignals}, nil},
		{"fail/contract lookup error is returned", scopeTable{err: boom}, "ptn_c", nil, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ContractDatasetPolicy{Contracts: tc.scope}.AllowedDatasets(context.Background(), tc.partner)
			if !errors.Is(err, tc.wantErr) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("AllowedDatasets = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
