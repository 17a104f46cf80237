package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestSDKOpenAPISnapshotIsCurrent: sdk/go/openapi.json, from which the SDK's
// types are generated, is the document the platform serves (with the issuer
// the snapshot was taken with, http://127.0.0.1:8080). When it fails, copy
// the served /openapi.json to sdk/go/openapi.json and run
// `go generate ./sdk/go`.
func TestSDKOpenAPISnapshotIsCurrent(t *testing.T) {
	s := MustStart(t, "")
	res, err := http.Get(s.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var served, snapshot any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(b), s.URL, "http://127.0.0.1:8080")), &served); err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile("../../sdk/go/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(f, &snapshot); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(served, snapshot) {
		t.Fatal("sdk/go/openapi.json differs from the served /openapi.json: copy it and run go generate ./sdk/go")
	}
}
