package monitoring

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
)

// APIBasePath is where the partner APIs are served (apis.BasePath); the
// request log records paths under it.
const APIBasePath = "/open-banking/v3.1"

// Family is an endpoint family of the published statistics.
type Family struct {
	// Key is the family's stable name (the CSV's family column).
	Key string
	// Label names it on the page.
	Label string
	// Endpoints describes which paths belong to it.
	Endpoints string
	// Recorded is false for a family the request log does not record
	// (its figures are then absent, not zero).
	Recorded bool
}

// Families are the endpoint families, in the order they are published.
var Families = []Family{
	{"accounts", "Accounts (AISP)", APIBasePath + "/aisp/…", true},
	{"payments", "Payments (PISP)", APIBasePath + "/pisp/… except funds confirmation", true},
	{"funds_confirmation", "Funds confirmation", APIBasePath + "/pisp/domestic-payment-consents/{ConsentId}/funds-confirmation", true},
	{"data_sharing", "Data sharing", APIBasePath + "/data/…", true},
	{"token_auth", "Token and authorisation", "/token, /par, /authorize (the authorization server)", true},
}

// FamilyOf returns the Key of the family path belongs to ("" for none).
func FamilyOf(path string) string {
	rest, ok := strings.CutPrefix(path, APIBasePath+"/")
	if !ok {
		return ""
	}
	switch {
	case strings.HasPrefix(rest, "pisp/") && strings.HasSuffix(rest, "/funds-confirmation"):
		return "funds_confirmation"
	case strings.HasPrefix(rest, "aisp/"):
		return "accounts"
	case strings.HasPrefix(rest, "pisp/"):
		return "payments"
	case strings.HasPrefix(rest, "data/"):
		return "data_sharing"
	}
	return ""
}

// FamilyStats are one family's figures for a month.
type FamilyStats struct {
	Family
	// Requests counts the family's logged requests; ServerErrors the 5xx
	// answers; Unanswered the requests logged without an answer (status 0).
	Requests, ServerErrors, Unanswered int64
	// AvgLatencyUS is the mean latency in microseconds, rounded half up;
	// P95LatencyUS the nearest-rank 95th percentile.
	AvgLatencyUS, P95LatencyUS int64
}

// Availability is 1 − (ServerErrors + Unanswered) / Requests in thousandths
// of a percent (99.950 % is 99950), rounded down; ok is false when there
// were no requests (availability is then undefined, not 100 %).
func (f FamilyStats) Availability() (milliPercent int64, ok bool) {
	if f.Requests == 0 {
		return 0, false
	}
	good := f.Requests - f.ServerErrors - f.Unanswered
	return good * 100000 / f.Requests, true
}

// AvailabilityText is Availability as "99.950" ("" when undefined).
func (f FamilyStats) AvailabilityText() string {
	v, ok := f.Availability()
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d.%03d", v/1000, v%1000)
}

// MS formats microseconds as milliseconds with three decimals ("12.345").
func MS(us int64) string {
	return fmt.Sprintf("%d.%03d", us/1000, us%1000)
}

// Statistics are the published availability and performance figures of one
// month in one environment.
type Statistics struct {
	// Month is "YYYY-MM"; From and To bound it (From <= at < To, UTC).
	Month       string
	From, To    time.Time
	Environment environment.Environment
	// Families holds one row per entry of Families, in that order; All sums
	// the recorded families.
	Families []FamilyStats
	All      FamilyStats
}

// ParseMonth parses "YYYY-MM" to the month's first instant (UTC), or
// returns ErrBadMonth.
func ParseMonth(s string) (time.Time, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, ErrBadMonth
	}
	return t.UTC(), nil
}

// Statistics computes month's ("YYYY-MM"; "" for the current one)
// statistics in env. It returns ErrBadMonth or ErrBadEnvironment for bad
// input, else the Store's error.
func (s *Service) Statistics(ctx context.Context, month string, env environment.Environment) (*Statistics, error) {
	if !env.Valid() {
		return nil, ErrBadEnvironment
	}
	if month == "" {
		month = s.now().UTC().Format("2006-01")
	}
	from, err := ParseMonth(month)
	if err != nil {
		return nil, err
	}
	to := from.AddDate(0, 1, 0)
	out := &Statistics{Month: month, From: from, To: to, Environment: env,
		All: FamilyStats{Family: Family{Key: "all", Label: "All recorded families", Recorded: true}}}
	idx := map[string]int{}
	lat := make([][]int64, len(Families))
	sums := make([]int64, len(Families))
	for i, f := range Families {
		idx[f.Key] = i
		out.Families = append(out.Families, FamilyStats{Family: f})
	}
	var allSum int64
	err = s.store.EachRequest(ctx, Scope{Environment: env}, from, to, func(r Request) error {
		i, ok := idx[FamilyOf(r.Path)]
		if !ok {
			return nil
		}
		for _, f := range []*FamilyStats{&out.Families[i], &out.All} {
			f.Requests++
			switch {
			case r.Status == 0:
				f.Unanswered++
			case r.Status >= 500:
				f.ServerErrors++
			}
		}
		lat[i] = append(lat[i], r.LatencyUS)
		sums[i] += r.LatencyUS
		allSum += r.LatencyUS
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("monitoring: requests: %w", err)
	}
	// The token_auth family comes from the nodes' per-minute counts.
	ta := idx["token_auth"]
	hist := make([][]int64, len(Families))
	hist[ta] = make([]int64, len(AuthLatencyBoundsUS)+1)
	err = s.store.EachAuthStat(ctx, env, from, to, func(st AuthStat) error {
		for _, f := range []*FamilyStats{&out.Families[ta], &out.All} {
			f.Requests += st.Requests
			f.ServerErrors += st.ServerErrors
		}
		sums[ta] += st.LatencySumUS
		allSum += st.LatencySumUS
		for j, c := range st.Buckets {
			hist[ta][j] += c
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("monitoring: authorization server requests: %w", err)
	}
	allLat := make([]int64, 0, out.All.Requests)
	for i := range lat {
		allLat = append(allLat, lat[i]...)
	}
	for i := range out.Families {
		out.Families[i].setLatency(lat[i], hist[i], sums[i])
	}
	out.All.setLatency(allLat, hist[ta], allSum)
	return out, nil
}

// setLatency sets the mean and p95 of exact latencies lat together with
// the bucketed ones of hist (nil: none), whose sum with lat's is sum.
func (f *FamilyStats) setLatency(lat, hist []int64, sum int64) {
	n := int64(len(lat))
	for _, c := range hist {
		n += c
	}
	if n == 0 {
		return
	}
	slices.Sort(lat)
	f.AvgLatencyUS = (2*sum + n) / (2 * n)
	f.P95LatencyUS = percentileMixed(lat, hist, 95)
}

// CSVHeader is the header row of the statistics CSV.
var CSVHeader = []string{"month", "environment", "family", "endpoints", "requests", "server_errors", "unanswered",
	"availability_percent", "avg_response_ms", "p95_response_ms"}

// CSVRows are the statistics as CSV records, CSVHeader first: one per
// family (an unrecorded family with its figures empty), then "all".
func (st *Statistics) CSVRows() [][]string {
	out := [][]string{CSVHeader}
	for _, f := range append(slices.Clone(st.Families), st.All) {
		row := []string{st.Month, string(st.Environment), f.Key, f.Endpoints}
		if !f.Recorded {
			row = append(row, "", "", "", "", "", "")
		} else {
			avg, p95 := "", ""
			if f.Requests > 0 {
				avg, p95 = MS(f.AvgLatencyUS), MS(f.P95LatencyUS)
			}
			row = append(row, strconv.FormatInt(f.Requests, 10), strconv.FormatInt(f.ServerErrors, 10),
				strconv.FormatInt(f.Unanswered, 10), f.AvailabilityText(), avg, p95)
		}
		out = append(out, row)
	}
	return out
}
