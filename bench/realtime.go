package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/store/duckdb"
)

// realtimeBench measures ingest of CloudFront real-time logs: from files
// against standard logs, and from Kinesis against the emulator's floor.
type realtimeBench struct {
	records      int     // real-time records in files
	kinesis      int     // records on the stream
	endpoint     string  // kinesalite
	standardRate float64 // lines/s of (b)
}

func (rt realtimeBench) run(dir, bin string, nfiles int) error {
	if rt.records > 0 {
		if err := rt.files(dir, bin, nfiles); err != nil {
			return err
		}
	}
	switch {
	case rt.kinesis <= 0:
		return nil
	case rt.endpoint == "":
		fmt.Println("\n(f) Kinesis: skipped, KINESIS_ENDPOINT is not set (run make bench, or scripts/testenv.sh go run ./bench)")
		return nil
	}
	return rt.stream(dir, bin)
}

// rtGen returns a generator of real-time records for file or stream i.
func rtGen(i, n int) *loggen.Gen {
	month := 31 * 24 * time.Hour
	return loggen.New(loggen.Config{
		Seed: uint64(1000 + i), KeySeed: 7, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * month / time.Duration(n)),
		Span: month / time.Duration(n), Customers: 40, KeysPerCustomer: 3, UnknownKeys: 10, NoKeyPercent: 3, Paths: 200,
		HeaderKeyPercent: 50, TruncatedPercent: 4, BigHeadersPercent: 5,
	})
}

// files times keymeter ingest of real-time records in gzip files.
func (rt realtimeBench) files(dir, bin string, nfiles int) error {
	logs := filepath.Join(dir, "realtime")
	manifest := filepath.Join(logs, fmt.Sprintf("manifest-%d-%d", rt.records, nfiles))
	paths := make([]string, nfiles)
	for i := range paths {
		paths[i] = filepath.Join(logs, fmt.Sprintf("2025/10/%02d/rt-bench-1-2025-10-%02d-00-00-00-%02d.gz", 1+i*31/nfiles, 1+i*31/nfiles, i))
	}
	t0 := time.Now()
	if _, err := os.Stat(manifest); err != nil {
		os.RemoveAll(logs)
		var wg sync.WaitGroup
		errs := make([]error, nfiles)
		sem := make(chan struct{}, runtime.NumCPU())
		for i := range nfiles {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				errs[i] = writeRealtime(paths[i], rtGen(i, nfiles), rt.records/nfiles+boolInt(i < rt.records%nfiles))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		if err := os.WriteFile(manifest, nil, 0o644); err != nil {
			return err
		}
	}
	var size int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			size += st.Size()
		}
	}
	fmt.Printf("\ngenerated %d real-time records (45 fields) in %d gzip files (%d MB) in %.1fs\n", rt.records, nfiles, size>>20, time.Since(t0).Seconds())
	data := filepath.Join(dir, "data-realtime")
	os.RemoveAll(data)
	cmd := exec.Command(bin, "ingest", "--quiet", "--json", "--format", "cloudfront-realtime", "--data", data, logs)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	fmt.Printf("%-48s %s\n", "    load average before", loadAverage())
	d, peak, err := runWatched(cmd)
	if err != nil {
		return fmt.Errorf("keymeter ingest --format cloudfront-realtime: %w\n%s", err, out.String())
	}
	var sum struct{ Events int64 }
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || sum.Events != int64(rt.records) {
		return fmt.Errorf("real-time ingest stored %d events (%v), want %d", sum.Events, err, rt.records)
	}
	rate := float64(rt.records) / d.Seconds()
	extra := ""
	if rt.standardRate > 0 {
		extra = fmt.Sprintf("%.0f%% of (b)'s rate per line", 100*rate/rt.standardRate)
	}
	report("(e) keymeter ingest, real-time records", d, rt.records, extra)
	fmt.Printf("%-48s %d MB\n", "    peak memory (RSS)", peak)
	if st, err := os.Stat(filepath.Join(data, "keymeter.duckdb")); err == nil {
		fmt.Printf("%-48s %d MB (%d bytes per event)\n", "    store size", st.Size()>>20, st.Size()/int64(rt.records))
	}
	return nil
}

// writeRealtime writes n real-time log records from g, as Firehose
// delivers them: no header, one record a line.
func writeRealtime(path string, g *loggen.Gen, n int) error {
	var r loggen.Record
	return writeGzip(path, "", n, func(buf []byte) []byte {
		g.NextRealtime(&r)
		return r.AppendRealtime(buf, loggen.RealtimeFields)
	})
}

// stream puts records on a new kinesalite stream and times reading them
// back: with source/kinesis alone, then with keymeter ingest.
func (rt realtimeBench) stream(dir, bin string) error {
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider("bench", "bench", "")
	api := awskinesis.New(awskinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(rt.endpoint), Credentials: creds})
	var r [6]byte
	crand.Read(r[:])
	name := "keymeter-bench-" + hex.EncodeToString(r[:])
	const shards = 4
	if _, err := api.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(shards)}); err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	defer api.DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: &name})
	for {
		out, err := api.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Real-time records reach the stream seconds after their requests:
	// in time order, give or take. These span one hour.
	start := time.Now()
	g := loggen.New(loggen.Config{
		Seed: 2000, KeySeed: 7, Start: time.Date(2025, 10, 15, 12, 0, 0, 0, time.UTC), Span: time.Hour,
		Customers: 40, KeysPerCustomer: 3, UnknownKeys: 10, NoKeyPercent: 3, Paths: 200,
		HeaderKeyPercent: 50, TruncatedPercent: 4, BigHeadersPercent: 5,
	})
	var rec loggen.Record
	for i := 0; i < rt.kinesis; i += 500 {
		var entries []types.PutRecordsRequestEntry
		for j := i; j < min(i+500, rt.kinesis); j++ {
			g.NextRealtime(&rec)
			entries = append(entries, types.PutRecordsRequestEntry{
				Data: rec.AppendRealtime(nil, loggen.RealtimeFields), PartitionKey: aws.String(fmt.Sprint(j)),
			})
		}
		out, err := api.PutRecords(ctx, &awskinesis.PutRecordsInput{StreamName: &name, Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		if n := aws.ToInt32(out.FailedRecordCount); n > 0 {
			return fmt.Errorf("put records: %d failed", n)
		}
	}
	fmt.Printf("\nput %d real-time records on a %d-shard kinesalite stream in %.1fs\n", rt.kinesis, shards, time.Since(start).Seconds())

	// The floor: the emulator serving records to a consumer that only
	// counts them. Then keymeter's ingest in this process (the same
	// reading, plus parsing, attributing and storing), and keymeter as
	// its own process (plus starting, and closing the store).
	s, err := kinesis.Open(ctx, kinesis.Config{Endpoint: rt.endpoint, Region: "us-east-1", AccessKeyID: "bench", SecretAccessKey: "bench"}, name)
	if err != nil {
		return err
	}
	fmt.Printf("%-48s %s\n", "    load average before", loadAverage())
	var n int
	start, cpu0 := time.Now(), selfCPU()
	err = s.ReadAll(ctx, nil, func(_ string, recs []kinesis.Record, _ string, _ int64) error {
		n += len(recs)
		return nil
	})
	if err != nil {
		return err
	}
	floor, floorCPU := time.Since(start), selfCPU()-cpu0
	if n != rt.kinesis {
		return fmt.Errorf("read %d records back, want %d", n, rt.kinesis)
	}
	report("(f1) read the stream, count records (floor)", floor, n, cpuShare(floorCPU, floor))

	db, err := duckdb.Open(ctx, filepath.Join(dir, "data-kinesis-lib.duckdb"), duckdb.Options{MemoryLimit: "96MB"})
	if err != nil {
		return err
	}
	defer os.Remove(filepath.Join(dir, "data-kinesis-lib.duckdb"))
	defer db.Close()
	in, err := ingest.New(db, ingest.Config{Format: "cloudfront-realtime", Secret: []byte("keymeter bench secret")})
	if err != nil {
		return err
	}
	start, cpu0 = time.Now(), selfCPU()
	sum, err := in.RunStream(ctx, s)
	if err != nil {
		return err
	}
	lib, libCPU := time.Since(start), selfCPU()-cpu0
	if sum.Events != int64(rt.kinesis) {
		return fmt.Errorf("ingest.RunStream stored %d events, want %d", sum.Events, rt.kinesis)
	}
	report("(f2) ingest.RunStream, in this process", lib, n, fmt.Sprintf("%.2fx the floor's time; %s", lib.Seconds()/floor.Seconds(), cpuShare(libCPU, lib)))

	data := filepath.Join(dir, "data-kinesis")
	os.RemoveAll(data)
	cmd := exec.Command(bin, "ingest", "--quiet", "--json", "--data", data, "--endpoint", rt.endpoint, "kinesis://"+name)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start = time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("keymeter ingest kinesis://: %w\n%s", err, out.String())
	}
	wall := time.Since(start)
	var psum struct{ Events int64 }
	if err := json.Unmarshal(out.Bytes(), &psum); err != nil || psum.Events != int64(rt.kinesis) {
		return fmt.Errorf("kinesis ingest stored %d events (%v), want %d", psum.Events, err, rt.kinesis)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	report("(f3) keymeter ingest kinesis://, a process", wall, n, fmt.Sprintf("%.2fx the floor's time; %s", wall.Seconds()/floor.Seconds(), cpuShare(cpu, wall)))
	fmt.Printf("%-48s %.0f records per CPU-second\n", "    keymeter process", float64(n)/cpu.Seconds())
	return nil
}

// selfCPU returns the user and system time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuShare describes CPU time used over wall time, in cores.
func cpuShare(cpu, wall time.Duration) string {
	return fmt.Sprintf("CPU %.1fs = %.0f%% of one core", cpu.Seconds(), 100*cpu.Seconds()/wall.Seconds())
}
