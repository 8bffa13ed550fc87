// Command openloop sends requests at a fixed rate regardless of how fast answers come back (an open loop, so a slow
// server cannot slow the generator down and hide its own latency: no coordinated omission), and reports latency and
// time to first byte measured from each request's scheduled start. Standard library only (Debian's Go 1.19).
//
//	openloop -url URL -rate 500 -duration 10s [-body file.json] [-vary] [-user bench-user]
//	openloop -url A -url2 B -block 1s ...   (paired: alternates blocks between two targets, see below)
//
// Paired mode compares two targets under the same conditions. The run is cut into blocks of -block; blocks go to A and
// B in turn, in pairs ordered AB, BA, AB, ... so neither always goes first. Both targets then see the same background
// (a noisy neighbour, the generator's own pauses) within a second of each other, which separate runs do not: on these
// shared 2-core machines one 10 s run's p50 can differ from the next one's by 1 ms. Reported besides each target's
// overall p50/p99 (p50_ms, p99_ms for A; p50_ms_2, p99_ms_2 for B): the median over pairs of A's block p50 minus B's
// block p50 (paired_p50_diff_ms), and every pair's difference. Each target gets -rate during its blocks.
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
	url2 := flag.String("url2", "", "paired mode: the second target (blocks alternate between -url and -url2)")
	block := flag.Duration("block", time.Second, "paired mode: length of one block")
	conns := flag.Int("connections", 64, "at most this many connections per target (a request waits for a free one; its latency still counts from its scheduled start)")
	client := flag.String("client", "raw", "raw: pre-built HTTP/1.1 requests on fixed keep-alive connections (cheap, so the generator takes little of the cores the server under test needs); std: Go's net/http client, a goroutine per request (time to first byte of a stream)")
	flag.Parse()

	var body []byte
	if *bodyFile != "" {
		var err error
		if body, err = os.ReadFile(*bodyFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	urls := []string{*url, *url2}
	var mu sync.Mutex
	var latencies, firstBytes []float64
	blockSeconds := block.Seconds()
	pairs := 0
	if *url2 != "" {
		pairs = int(duration.Seconds()/blockSeconds) / 2
		if pairs < 1 {
			fmt.Fprintln(os.Stderr, "paired mode needs -duration of at least two blocks")
			os.Exit(2)
		}
	}
	// blockLatencies[k]: latencies of block k (paired mode only).
	blockLatencies := make([][]float64, 2*pairs)
	errors, non2xx := 0, 0
	var wg sync.WaitGroup
	record := func(j job, first, done time.Duration, status int, err error) {
		defer wg.Done()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errors++
			return
		}
		if status/100 != 2 {
			non2xx++
		}
		if j.k >= 0 {
			blockLatencies[j.k] = append(blockLatencies[j.k], ms(done))
			if j.target == 1 {
				return // B's latencies are its blocks'
			}
		}
		latencies = append(latencies, ms(done))
		firstBytes = append(firstBytes, ms(first))
	}
	interval := time.Duration(float64(time.Second) / *rate)
	total, sent := int(duration.Seconds()**rate), 0
	var submit func(j job)
	switch *client {
	case "raw":
		// One queue per target, drained by a fixed set of keep-alive connections (-connections per target).
		queues := make([]chan job, 2)
		for t := range queues {
			if t == 1 && *url2 == "" {
				break
			}
			target, err := newRawTarget(urls[t], *user)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			queues[t] = make(chan job, total+1)
			for c := 0; c < *conns; c++ {
				go func(q chan job) {
					conn := &rawConn{target: target}
					for j := range q {
						first, done, status, err := conn.do(j)
						record(j, first, done, status, err)
					}
				}(queues[t])
			}
		}
		submit = func(j job) { queues[j.target] <- j }
	case "std":
		// A bounded pool: without it a stall makes the client open a connection per waiting request, until the
		// machine's ports and CPU go to the generator instead of the server under test.
		transport := &http.Transport{MaxConnsPerHost: *conns, MaxIdleConns: *conns, MaxIdleConnsPerHost: *conns, DisableCompression: true, IdleConnTimeout: time.Minute}
		httpClient := &http.Client{Transport: transport, Timeout: 60 * time.Second}
		submit = func(j job) {
			go func() {
				first, done, status, err := doStd(httpClient, urls[j.target], *user, j)
				record(j, first, done, status, err)
			}()
		}
	default:
		fmt.Fprintln(os.Stderr, "-client is raw or std")
		os.Exit(2)
	}
	start := time.Now()
	for i := 0; i < total; i++ {
		scheduled := start.Add(time.Duration(i) * interval)
		j := job{scheduled: scheduled, k: -1}
		if pairs > 0 {
			j.k = int(float64(i) / *rate / blockSeconds)
			if j.k >= 2*pairs {
				break
			}
			j.target = blockTarget(j.k)
		}
		j.payload = body
		if *vary {
			j.payload = bytes.ReplaceAll(body, []byte("{n}"), []byte(fmt.Sprint(scheduled.UnixNano())))
		}
		if wait := time.Until(scheduled); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		sent++
		submit(j)
	}
	sendEnd := time.Since(start)
	wg.Wait()
	out := map[string]interface{}{
		"rate": *rate, "sent": sent, "completed": len(latencies), "errors": errors, "non_2xx": non2xx,
		"send_seconds": sendEnd.Seconds(), "client": *client,
		"p50_ms": pct(latencies, 50), "p90_ms": pct(latencies, 90), "p99_ms": pct(latencies, 99), "max_ms": pct(latencies, 100),
		"ttfb_p50_ms": pct(firstBytes, 50), "ttfb_p99_ms": pct(firstBytes, 99),
	}
	if pairs > 0 {
		var latencies2 []float64
		for k, block := range blockLatencies {
			if blockTarget(k) == 1 {
				latencies2 = append(latencies2, block...)
			}
		}
		diffs := make([]float64, 0, pairs)
		for p := 0; p < pairs; p++ {
			a, b := blockLatencies[2*p], blockLatencies[2*p+1]
			if blockTarget(2*p) == 1 {
				a, b = b, a
			}
			if len(a) > 0 && len(b) > 0 {
				diffs = append(diffs, pct(a, 50)-pct(b, 50))
			}
		}
		out["completed_2"] = len(latencies2)
		out["p50_ms_2"], out["p90_ms_2"], out["p99_ms_2"] = pct(latencies2, 50), pct(latencies2, 90), pct(latencies2, 99)
		out["block_seconds"] = blockSeconds
		out["pair_p50_diffs_ms"] = diffs
		out["paired_p50_diff_ms"] = median(diffs)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

// blockTarget: 0 (A) or 1 (B) for block k; pairs alternate AB, BA, AB, ...
func blockTarget(k int) int {
	if (k/2)%2 == 0 {
		return k % 2
	}
	return 1 - k%2
}

func median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
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

// job: one request, sent at scheduled to urls[target]; k is its block in paired mode (-1 otherwise).
type job struct {
	scheduled time.Time
	target, k int
	payload   []byte
}

// doStd sends j with net/http and reads the whole answer; first is the first body byte.
func doStd(client *http.Client, url, user string, j job) (first, done time.Duration, status int, err error) {
	method := "GET"
	if j.payload != nil {
		method = "POST"
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(j.payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User-Id", user)
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	one := make([]byte, 1)
	_, err = io.ReadFull(resp.Body, one)
	first = time.Since(j.scheduled)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return first, time.Since(j.scheduled), resp.StatusCode, err
}
