package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report prints the run's figures as Markdown: calls per second by
// transport, latency by function class, each fault's errors and recovery,
// the replicas' resident memory, and the invariants.
func report(w io.Writer, o options, rec *recorder, script []*fault, rss []rssSample, violations []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	elapsed := time.Since(rec.start)
	total := 0
	for _, n := range rec.ok {
		total += n
	}
	fmt.Fprintf(w, "\n### Soak, %s, %d users, %d sessions, seed %d\n\n", o.duration, o.users, o.sessions, o.seed)
	fmt.Fprintf(w, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(w, "| calls answered | %d in %s (%.0f/s) |\n", total, elapsed.Round(time.Second), float64(total)/elapsed.Seconds())
	for _, t := range transports {
		fmt.Fprintf(w, "| calls/s over %s | %.0f |\n", t, float64(rec.ok[t])/elapsed.Seconds())
	}
	for _, c := range classes {
		l := slices.Clone(rec.latency[c])
		slices.Sort(l)
		fmt.Fprintf(w, "| %s: calls, p50, p99 | %d, %.1f ms, %.1f ms |\n", c, len(l), percentile(l, 0.5), percentile(l, 0.99))
	}
	for i, f := range script {
		// A failure belongs to the latest fault begun before it, within that
		// fault's grace.
		next := elapsed
		if i+1 < len(script) && script[i+1].began > 0 {
			next = script[i+1].began
		}
		codes := map[string]int{}
		var last time.Duration
		for _, fl := range rec.failures {
			if f.window(fl.at) && fl.at < next {
				codes[fl.code]++
				last = max(last, fl.at)
			}
		}
		recovery := "no errors"
		if len(codes) > 0 {
			recovery = fmt.Sprintf("errors ended %.1f s after", max(0, (last-f.ended).Seconds()))
		}
		fmt.Fprintf(w, "| %s (%.0f–%.0f s) | %s; %s |\n", f.name, f.began.Seconds(), f.ended.Seconds(), recovery, countsByCode(codes))
	}
	for i, name := range []string{"a", "b"} {
		var kib []int64
		for _, s := range rss {
			if s.kib[i] > 0 {
				kib = append(kib, s.kib[i])
			}
		}
		if len(kib) > 0 {
			fmt.Fprintf(w, "| replica %s RSS: first, max, last sample | %.1f, %.1f, %.1f MiB |\n", name,
				float64(kib[0])/1024, float64(slices.Max(kib))/1024, float64(kib[len(kib)-1])/1024)
		}
	}
	verdict := "all hold"
	if len(violations) > 0 {
		verdict = fmt.Sprintf("%d FAILED", len(violations))
	}
	fmt.Fprintf(w, "| invariants | %s |\n", verdict)
	for _, v := range violations[:min(len(violations), 50)] {
		fmt.Fprintln(w, "- violation:", v)
	}
}

// countsByCode is "CODE ×n, …", most frequent first.
func countsByCode(codes map[string]int) string {
	keys := slices.Collect(maps.Keys(codes))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(codes[b]-codes[a], strings.Compare(a, b)) })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, codes[k]))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}
