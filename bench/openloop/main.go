// Command openloop sends requests at a fixed rate regardless of how fast answers come back (an open loop, so a slow
// server cannot slow the generator down and hide its own latency: no coordinated omission), and reports latency and
// time to first byte measured from each request's scheduled start. Standard library only (Debian's Go 1.19).
//
//	openloop -url URL -rate 500 -duration 10s [-body file.json] [-vary] [-user bench-user]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "target URL")
	rate := flag.Float64("rate", 100, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	bodyFile := flag.String("body", "", "request body file (JSON); POST when given")
	user := flag.String("user", "bench-user", "X-User-Id header")
	vary := flag.Bool("vary", false, "replace {n} in the body with the request number (cache misses)")
	conns := flag.Int("connections", 64, "at most this many connections (a request waits for a free one; its latency still counts from its scheduled start)")
	flag.Parse()

	var body []byte
	if *bodyFile != "" {
		var err error
		if body, err = os.ReadFile(*bodyFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	// A bounded pool: without it a stall makes the client open a connection per waiting request, until the machine's
	// ports and CPU go to the generator instead of the server under test.
	transport := &http.Transport{MaxConnsPerHost: *conns, MaxIdleConns: *conns, MaxIdleConnsPerHost: *conns, DisableCompression: true, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}

	var mu sync.Mutex
	var latencies, firstBytes []float64
	errors, non2xx := 0, 0
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	total := int(duration.Seconds() * *rate)
	for i := 0; i < total; i++ {
		scheduled := start.Add(time.Duration(i) * interval)
		if wait := time.Until(scheduled); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func(scheduled time.Time) {
			defer wg.Done()
			method := "GET"
			if body != nil {
				method = "POST"
			}
			payload := body
			if *vary {
				payload = bytes.ReplaceAll(body, []byte("{n}"), []byte(fmt.Sprint(scheduled.UnixNano())))
			}
			req, _ := http.NewRequest(method, *url, bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-User-Id", *user)
			resp, err := client.Do(req)
			if err != nil {
				mu.Lock()
				errors++
				mu.Unlock()
				return
			}
			one := make([]byte, 1)
			_, err = io.ReadFull(resp.Body, one)
			first := time.Since(scheduled)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
			}
			done := time.Since(scheduled)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errors++
				return
			}
			if resp.StatusCode/100 != 2 {
				non2xx++
			}
			latencies = append(latencies, ms(done))
			firstBytes = append(firstBytes, ms(first))
		}(scheduled)
	}
	sendEnd := time.Since(start)
	wg.Wait()
	out := map[string]interface{}{
		"rate": *rate, "sent": total, "completed": len(latencies), "errors": errors, "non_2xx": non2xx,
		"send_seconds": sendEnd.Seconds(),
		"p50_ms":       pct(latencies, 50), "p90_ms": pct(latencies, 90), "p99_ms": pct(latencies, 99), "max_ms": pct(latencies, 100),
		"ttfb_p50_ms": pct(firstBytes, 50), "ttfb_p99_ms": pct(firstBytes, 99),
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	i := int(p/100*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}
