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

// rounds are the results of measureRounds, by target, one per round.
type rounds map[string][]wrkResult

// target is one server a workload drives.
type target struct{ name, url string }

// measureRounds runs wrk at the baseline, then at each host, o.rounds
// times, printing each result as it comes. script names the wrk script of
// each round; prepare, when set, runs before each host's run (to warm its
// entries of the round). The baseline's results are under "baseline".
func measureRounds(w wrk, baselineURL string, hosts []target, script func(round int) string, o options,
	prepare func(url string, round int) error) (rounds, error) {
	baseline := target{"baseline", baselineURL}
	hosts = slices.Clone(hosts)
	results := rounds{}
	fmt.Printf("%-5s %-8s %9s %6s %9s %9s %9s %6s\n", "round", "target", "requests", "failed", "req/s", "p50", "p99", "ratio")
	for round := 1; round <= o.rounds; round++ {
		// The hosts take turns going first, so that neither always runs on
		// a machine the runs before it warmed (or tired).
		if round > 1 {
			slices.Reverse(hosts)
		}
		for _, t := range append([]target{baseline}, hosts...) {
			if prepare != nil && t.name != "baseline" {
				if err := prepare(t.url, round); err != nil {
					return nil, fmt.Errorf("warming the %s host: %w", t.name, err)
				}
			}
			r, err := w.run(t.url, script(round), o.duration)
			if err != nil {
				return nil, err
			}
			results[t.name] = append(results[t.name], r)
			ratio := ""
			if t.name != "baseline" {
				ratio = fmt.Sprintf("%.2f", r.rate/results["baseline"][round-1].rate)
			}
			fmt.Printf("%-5d %-8s %9d %6d %9.0f %9s %9s %6s\n", round, t.name, r.requests, r.failed, r.rate,
				r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), ratio)
		}
	}
	return results, nil
}

// medianRatio is the median over the rounds of target's rate over the
// baseline's in the same round.
func (rs rounds) medianRatio(target string) float64 {
	var ratios []float64
	for i, r := range rs[target] {
		ratios = append(ratios, r.rate/rs["baseline"][i].rate)
	}
	slices.Sort(ratios)
	n := len(ratios)
	if n%2 == 1 {
		return ratios[n/2]
	}
	return (ratios[n/2-1] + ratios[n/2]) / 2
}

// medianP99Ratio is the median over the rounds of target's p99 over the
// baseline's in the same round.
func (rs rounds) medianP99Ratio(target string) float64 {
	var ratios []float64
	for i, r := range rs[target] {
		ratios = append(ratios, float64(r.p99)/float64(rs["baseline"][i].p99))
	}
	slices.Sort(ratios)
	n := len(ratios)
	if n%2 == 1 {
		return ratios[n/2]
	}
	return (ratios[n/2-1] + ratios[n/2]) / 2
}

// failures counts the failed requests of every run.
func (rs rounds) failures() int {
	n := 0
	for _, runs := range rs {
		for _, r := range runs {
			n += r.failed
		}
	}
	return n
}
