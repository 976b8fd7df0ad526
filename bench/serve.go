package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serveBench measures keymeter serve (go run ./bench -serve): while it
// ingests a directory of gzip logs at full speed, a load generator sends
// GET requests to -route at -rate per second on loopback and records
// each latency; it reports their percentiles, the ingest rate against
// `keymeter ingest` of the same files alone, and serve's resident memory
// sampled over the run.
type serveBench struct {
	route string        // the API route to load, with its query
	rate  int           // requests per second
	after time.Duration // how long to keep loading once ingestion is done
}

var listenLine = regexp.MustCompile(`msg=serving listen=(\S+)`)

var eventsMetric = regexp.MustCompile(`(?m)^keymeter_source_events_total\{[^}]*\} (\S+)`)

func (sb serveBench) run(dir, bin, logs string, lines int) error {
	data := filepath.Join(dir, "serve-data")
	os.RemoveAll(data)
	// Alone first: the rate serve is compared with.
	aloneData := filepath.Join(dir, "alone-data")
	os.RemoveAll(aloneData)
	cmd := exec.Command(bin, "ingest", "--quiet", "--json", "--data", aloneData, logs)
	alone, aloneRSS, err := runWatched(cmd)
	if err != nil {
		return fmt.Errorf("keymeter ingest: %w", err)
	}
	os.RemoveAll(aloneData)

	// serve starts on an empty directory, then the logs appear in it at
	// once (a rename), as a delivery would.
	watched := filepath.Join(dir, "watched")
	os.RemoveAll(watched)
	if err := os.MkdirAll(watched, 0o755); err != nil {
		return err
	}
	srv := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--interval", "100ms", watched)
	stderr, err := srv.StderrPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(time.Minute):
		return fmt.Errorf("keymeter serve did not start")
	}
	base := "http://" + addr
	route := sb.route
	// An admin token, made by the server itself (the command is carried
	// out by the running serve).
	out, err := exec.Command(bin, "tokens", "create", "--data", data).Output()
	if err != nil {
		return fmt.Errorf("keymeter tokens create: %w", err)
	}
	token := strings.TrimSpace(string(out))
	get := func(c *http.Client, url string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return c.Do(req)
	}
	if resp, err := get(http.DefaultClient, base+route); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			fmt.Printf("%s answers 404 on this build: measuring /healthz instead\n", strings.SplitN(route, "?", 2)[0])
			route = "/healthz"
		}
	}

	// RSS every 500 ms, for the whole run.
	var rssMu sync.Mutex
	var rss []int64
	stopRSS := make(chan struct{})
	go func() {
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.Process.Pid)); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if kb, ok := strings.CutPrefix(l, "VmRSS:"); ok {
						n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
						rssMu.Lock()
						rss = append(rss, n>>10)
						rssMu.Unlock()
					}
				}
			}
			select {
			case <-stopRSS:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()

	// The load: one request every 1/rate, each in its own goroutine, so
	// that a slow answer does not delay the next (open loop).
	var latMu sync.Mutex
	var lats []time.Duration
	failures := 0
	stopLoad := make(chan struct{})
	var inflight sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(sb.rate))
		defer tick.Stop()
		for {
			select {
			case <-stopLoad:
				return
			case <-tick.C:
			}
			inflight.Go(func() {
				start := time.Now()
				resp, err := get(client, base+route)
				ok := err == nil
				if ok {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == http.StatusOK
				}
				d := time.Since(start)
				latMu.Lock()
				if ok {
					lats = append(lats, d)
				} else {
					failures++
				}
				latMu.Unlock()
			})
		}
	}()

	entries, err := os.ReadDir(logs)
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // load before ingestion starts
	start := time.Now()
	for _, e := range entries {
		if err := os.Link(filepath.Join(logs, e.Name()), filepath.Join(watched, e.Name())); err != nil {
			return err
		}
	}
	var took time.Duration
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := eventsMetric.FindSubmatch(b); m != nil {
			if n, _ := strconv.ParseFloat(string(m[1]), 64); n >= float64(lines) { // Prometheus writes 2e+06
				took = time.Since(start)
				break
			}
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("serve did not ingest %d events in 30 minutes", lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
	latMu.Lock()
	during := len(lats)
	latMu.Unlock()
	time.Sleep(sb.after)
	close(stopLoad)
	inflight.Wait()
	close(stopRSS)

	fmt.Println()
	report("(g) keymeter ingest alone", alone, lines, fmt.Sprintf("peak RSS %d MB", aloneRSS))
	report("    keymeter serve watching the directory", took, lines,
		fmt.Sprintf("%.0f%% of ingest alone's rate, with the load below", 100*alone.Seconds()/took.Seconds()))
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(float64(len(lats))*p))]
	}
	fmt.Printf("%-48s %d requests at %d/s (%d during ingestion), %d failed\n", "(h) GET "+route, len(lats)+failures, sb.rate, during, failures)
	fmt.Printf("%-48s p50 %s  p90 %s  p99 %s  max %s\n", "", ms(pct(0.5)), ms(pct(0.9)), ms(pct(0.99)), ms(pct(1)))
	rssMu.Lock()
	defer rssMu.Unlock()
	if len(rss) > 0 {
		var b bytes.Buffer
		step := max(1, len(rss)/12)
		for i := 0; i < len(rss); i += step {
			fmt.Fprintf(&b, " %d", rss[i])
		}
		fmt.Printf("%-48s max %d MB, last %d MB; every %.1fs:%s MB\n", "(i) keymeter serve RSS", slices.Max(rss), rss[len(rss)-1],
			float64(step)/2, b.String())
	}
	return nil
}
