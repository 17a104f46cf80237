package oauth

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// TestMeetsEssentialACR: only an essential request can fail; strong customer
// authentication meets a request for sca or ca, customer authentication only
// one for ca; unknown values are never met.
func TestMeetsEssentialACR(t *testing.T) {
	for _, tc := range []struct {
		name      string
		requested *ACRRequest
		achieved  string
		want      bool
	}{
		{"ok/no request", nil, ACRPassword, true},
		{"ok/voluntary sca with ca", &ACRRequest{Values: []string{ACRStrong}}, ACRPassword, true},
		{"ok/essential without values", &ACRRequest{Essential: true}, ACRPassword, true},
		{"ok/essential ca with ca", &ACRRequest{Essential: true, Values: []string{ACRPassword}}, ACRPassword, true},
		{"ok/essential ca with sca", &ACRRequest{Essential: true, Values: []string{ACRPassword}}, ACRStrong, true},
		{"ok/essential sca with sca", &ACRRequest{Essential: true, Values: []string{ACRStrong}}, ACRStrong, true},
		{"ok/essential unknown or sca with sca", &ACRRequest{Essential: true, Values: []string{"urn:example:loa4", ACRStrong}}, ACRStrong, true},
		{"fail/essential sca with ca", &ACRRequest{Essential: true, Values: []string{ACRStrong}}, ACRPassword, false},
		{"fail/essential unknown with sca", &ACRRequest{Essential: true, Values: []string{"urn:example:loa4"}}, ACRStrong, false},
		{"fail/essential ca with nothing achieved", &ACRRequest{Essential: true, Values: []string{ACRPassword}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := meetsEssentialACR(tc.requested, tc.achieved); got != tc.want {
				t.Fatalf("meetsEssentialACR(%+v, %q) = %v, want %v", tc.requested, tc.achieved, got, tc.want)
			}
		})
	}
}

// TestParseACRRequest: what acr_values and the claims parameter ask for.
func TestParseACRRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		form url.Values
		want *ACRRequest
	}{
		{"ok/neither", url.Values{}, nil},
		{"ok/empty acr_values", url.Values{"acr_values": {"  "}}, nil},
		{"ok/acr_values", url.Values{"acr_values": {" urn:openbanking:psd2:sca  urn:openbanking:psd2:ca "}}, &ACRRequest{Values: []string{ACRStrong, ACRPassword}}},
		{"ok/essential value", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"value":"urn:openbanking:psd2:sca"}}}`}},
			&ACRRequest{Essential: true, Values: []string{ACRStrong}}},
		{"ok/voluntary values", url.Values{"claims": {`{"id_token":{"acr":{"values":["urn:openbanking:psd2:sca"]}}}`}},
			&ACRRequest{Values: []string{ACRStrong}}},
		{"ok/essential takes acr_values' values", url.Values{"claims": {`{"id_token":{"acr":{"essential":true}}}`}, "acr_values": {ACRStrong}},
			&ACRRequest{Essential: true, Values: []string{ACRStrong}}},
		{"ok/claims values win over acr_values", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"values":["urn:openbanking:psd2:ca"]}}}`}, "acr_values": {ACRStrong}},
			&ACRRequest{Essential: true, Values: []string{ACRPassword}}},
		{"ok/essential false without values", url.Values{"claims": {`{"id_token":{"acr":{"essential":false}}}`}}, nil},
		{"ok/acr in userinfo is ignored", url.Values{"claims": {`{"userinfo":{"acr":{"essential":true,"value":"urn:openbanking:psd2:sca"}}}`}}, nil},
		{"ok/null members", url.Values{"claims": {`{"id_token":null,"userinfo":{"acr":null}}`}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseACRRequest(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestSessionCloneCopiesAuthentication: a clone shares no slice with the
// original.
func TestSessionCloneCopiesAuthentication(t *testing.T) {
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &Session{}
	s.setAuthentication(passwordAuthentication(at))
	s.RequestedACR = &ACRRequest{Essential: true, Values: []string{ACRStrong}}
	c := s.Clone().(*Session)
	c.AMR[0], c.RequestedACR.Values[0] = "x", "y"
	if s.AMR[0] != AMRPassword || s.RequestedACR.Values[0] != ACRStrong || c.ACR != ACRPassword || !c.AuthTime.Equal(at) {
		t.Fatalf("clone %+v shares with %+v", c, s)
	}
	b, _ := json.Marshal(s)
	var back Session
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.AMR, s.AMR) || !reflect.DeepEqual(back.RequestedACR, s.RequestedACR) {
		t.Fatalf("JSON round trip %s: %+v %v", b, back, err)
	}
}

// FuzzParseACRRequest: the acr_values and claims parser never panics, and an
// essential request it accepts names no empty value.
func FuzzParseACRRequest(f *testing.F) {
	f.Add(`{"id_token":{"acr":{"essential":true,"values":["urn:openbanking:psd2:sca"]}}}`, "")
	f.Add(`{"id_token":{"acr":{"value":"urn:openbanking:psd2:ca"}},"userinfo":{"email":null}}`, "urn:openbanking:psd2:sca")
	f.Add(`{"id_token":{"acr":{"essential":"yes"}}}`, "a  b")
	f.Add(`[]`, "")
	f.Fuzz(func(t *testing.T, claims, acrValues string) {
		form := url.Values{"claims": {claims}, "acr_values": {acrValues}}
		req, err := parseACRRequest(form)
		if err != nil || req == nil {
			return
		}
		for _, v := range req.Values {
			if v == "" {
				t.Fatalf("empty acr value accepted from %q %q", claims, acrValues)
			}
		}
		meetsEssentialACR(req, ACRStrong)
	})
}
