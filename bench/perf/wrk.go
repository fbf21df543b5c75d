package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wrk runs the wrk load generator.
type wrk struct {
	connections, threads int
}

// wrkResult is one wrk run's outcome.
type wrkResult struct {
	requests int
	failed   int // non-2xx answers and socket errors
	rate     float64
	p50, p99 time.Duration
}

// reportLua makes wrk print its summary as one line perf can read.
const reportLua = `
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %.1f %d %d\n", summary.requests,
		e.status + e.connect + e.read + e.write + e.timeout,
		summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99)))
end
`

// writeScript writes a wrk script that posts body on every request, with
// headers (name, value, name, value...) besides its Content-Type.
func writeScript(path, body string, headers ...string) error {
	var set strings.Builder
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&set, "wrk.headers[%q] = %q\n", headers[i], headers[i+1])
	}
	return os.WriteFile(path, []byte(`wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
`+set.String()+`wrk.body = [==[`+body+`]==]
`+reportLua), 0o600)
}

// writeCyclingScript writes a wrk script that calls list_inbox for users
// user-0 … user-(users-1) in turn, so that entries expire and refill.
func writeCyclingScript(path string, users int) error {
	return os.WriteFile(path, []byte(fmt.Sprintf(`wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
	n = n + 1
	return wrk.format(nil, nil, nil, string.format('{"user_id":"soak-%%d","function":"list_inbox","params":{"account_id":"work"}}', n %% %d))
end
`, users)+reportLua), 0o600)
}

// rotatingUsers is how many users the second workload rotates through.
const rotatingUsers = 10_000

// rotatingBodies are the spellings of one user's list_inbox call the
// second workload takes in turns: keys in other orders, white space, the
// folder given or left to its default. %d is the user.
var rotatingBodies = []string{
	`{"user_id":"rot-%s","function":"list_inbox","params":{"account_id":"work"}}`,
	`{"function":"list_inbox","user_id":"rot-%s","params":{"folder":"INBOX","account_id":"work"}}`,
	`{ "user_id" : "rot-%s" , "params" : { "account_id" : "work" , "folder" : "INBOX" } , "function" : "list_inbox" }`,
	`{"params":{"account_id":"work"},"tenant_id":"default","user_id":"rot-%s","function":"list_inbox"}`,
}

// rotatingUser is the user id of user u of round r: each round has users
// of its own, so that its warm-up fetches every entry afresh and none
// expires during its runs (the TTL is 60 s).
func rotatingUser(r, u int) string { return strconv.Itoa(r) + "-" + strconv.Itoa(u) }

// writeRotatingScript writes a wrk script that calls list_inbox for the
// rotatingUsers users of round in turn, each call spelled as the next of
// rotatingBodies, every thread from its own offset.
func writeRotatingScript(path string, round int) error {
	var bodies strings.Builder
	for _, b := range rotatingBodies {
		bodies.WriteString("\t[==[" + strings.ReplaceAll(b, "%s", strconv.Itoa(round)+"-%d") + "]==],\n")
	}
	lua := strings.NewReplacer("BODIES", bodies.String(), "USERS", strconv.Itoa(rotatingUsers)).Replace(`wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {
BODIES}
local threads = 0
setup = function(thread)
	thread:set("offset", threads * 5003)
	threads = threads + 1
end
local n = 0
request = function()
	n = n + 1
	local user = (n + (offset or 0)) % USERS
	return wrk.format(nil, nil, nil, string.format(bodies[n % #bodies + 1], user))
end
`)
	return os.WriteFile(path, []byte(lua+reportLua), 0o600)
}

// run drives url for d with script and returns its result.
func (w wrk) run(url, script string, d time.Duration) (wrkResult, error) {
	cmd := exec.Command("wrk", "-t"+strconv.Itoa(w.threads), "-c"+strconv.Itoa(w.connections),
		"-d"+strconv.Itoa(int(d.Seconds()))+"s", "-s", script, url)
	out, err := cmd.Output()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	return parseResult(out)
}

// parseResult reads the RESULT line of wrk's output.
func parseResult(out []byte) (wrkResult, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 6 || f[0] != "RESULT" {
			continue
		}
		var r wrkResult
		var p50, p99 int64
		var errs []error
		for i, dst := range []any{&r.requests, &r.failed, &r.rate, &p50, &p99} {
			_, err := fmt.Sscan(f[i+1], dst)
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return wrkResult{}, fmt.Errorf("wrk: summary %q: %w", sc.Text(), err)
		}
		r.p50, r.p99 = time.Duration(p50)*time.Microsecond, time.Duration(p99)*time.Microsecond
		return r, nil
	}
	return wrkResult{}, fmt.Errorf("wrk: no summary in %q", out)
}

// rounds are the results of measureRounds: every target's runs, one per
// round, and for each host the baseline it is measured against in each
// round.
type rounds struct {
	runs map[string][]wrkResult
	// refs are, by host, the mean of the baseline's runs just before and
	// just after the host's (rate and p99).
	refs map[string][]wrkResult
}

// target is one server a workload drives.
type target struct{ name, url string }

// measureRounds runs wrk at the baseline and at each host, o.rounds times,
// printing each result as it comes. Each host's run is bracketed by runs of
// the baseline, and measured against their mean: the machine's speed
// drifts within seconds (another tenant of the hypervisor), and a host
// compared with one baseline run only, made before it, carried that drift
// into its ratio either way. script names the wrk script of each round;
// prepare, when set, runs before each host's run (to warm its entries of
// the round). The baseline's runs are under "baseline".
func measureRounds(w wrk, baselineURL string, hosts []target, script func(round int) string, o options,
	prepare func(url string, round int) error) (rounds, error) {
	baseline := target{"baseline", baselineURL}
	hosts = slices.Clone(hosts)
	results := rounds{runs: map[string][]wrkResult{}, refs: map[string][]wrkResult{}}
	run := func(t target, round int) (wrkResult, error) {
		if prepare != nil && t.name != "baseline" {
			if err := prepare(t.url, round); err != nil {
				return wrkResult{}, fmt.Errorf("warming the %s host: %w", t.name, err)
			}
		}
		r, err := w.run(t.url, script(round), o.duration)
		if err == nil {
			results.runs[t.name] = append(results.runs[t.name], r)
		}
		return r, err
	}
	show := func(round int, name string, r wrkResult, ratio string) {
		fmt.Printf("%-5d %-8s %9d %6d %9.0f %9s %9s %6s\n", round, name, r.requests, r.failed, r.rate,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), ratio)
	}
	fmt.Printf("%-5s %-8s %9s %6s %9s %9s %9s %6s\n", "round", "target", "requests", "failed", "req/s", "p50", "p99", "ratio")
	for round := 1; round <= o.rounds; round++ {
		// The hosts take turns going first, so that neither always runs on
		// a machine the runs before it warmed (or tired).
		if round > 1 {
			slices.Reverse(hosts)
		}
		before, err := run(baseline, round)
		if err != nil {
			return rounds{}, err
		}
		show(round, baseline.name, before, "")
		for _, t := range hosts {
			r, err := run(t, round)
			if err != nil {
				return rounds{}, err
			}
			after, err := run(baseline, round)
			if err != nil {
				return rounds{}, err
			}
			ref := wrkResult{rate: (before.rate + after.rate) / 2, p99: (before.p99 + after.p99) / 2}
			results.refs[t.name] = append(results.refs[t.name], ref)
			show(round, t.name, r, fmt.Sprintf("%.2f", r.rate/ref.rate))
			show(round, baseline.name, after, "")
			before = after
		}
	}
	return results, nil
}

// medianRatio is the median over the rounds of target's rate over its
// reference's in the same round.
func (rs rounds) medianRatio(target string) float64 {
	var ratios []float64
	for i, r := range rs.runs[target] {
		ratios = append(ratios, r.rate/rs.refs[target][i].rate)
	}
	return median(ratios)
}

// medianP99Ratio is the median over the rounds of target's p99 over its
// reference's in the same round.
func (rs rounds) medianP99Ratio(target string) float64 {
	var ratios []float64
	for i, r := range rs.runs[target] {
		ratios = append(ratios, float64(r.p99)/float64(rs.refs[target][i].p99))
	}
	return median(ratios)
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// failures counts the failed requests of every run.
func (rs rounds) failures() int {
	n := 0
	for _, runs := range rs.runs {
		for _, r := range runs {
			n += r.failed
		}
	}
	return n
}
