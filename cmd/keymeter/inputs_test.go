package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keymeter/keymeter/internal/loggen"
)

// standardLog returns a CloudFront standard log of n generated requests.
func standardLog(seed uint64, n int) string {
	gen := loggen.New(loggen.Config{Seed: seed, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 2, KeysPerCustomer: 1, NoKeyPercent: 10})
	var b []byte
	b = append(b, loggen.Header(loggen.StandardFields)...)
	for range n {
		var r loggen.Record
		gen.Next(&r)
		b = r.AppendLine(b, loggen.StandardFields)
	}
	return string(b)
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// TestIngestSymlinks follows a symlinked log directory given as the
// argument and links inside it, reports a link loop and an argument that
// yields nothing (exit status 3), and still ingests the rest.
func TestIngestSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real/2025/10/01/E1.2025-10-01-00.a.gz"), string(gzipBytes(t, standardLog(1, 40))))
	writeFile(t, filepath.Join(dir, "archive/E1.2025-10-02-00.b"), standardLog(2, 25))
	symlink(t, "real", filepath.Join(dir, "logs"))
	symlink(t, "../../archive", filepath.Join(dir, "real/2025/02"))

	c := newCLI(t)
	r := c.run("ingest", "--json", filepath.Join(dir, "logs"))
	if r.code != 0 {
		t.Fatalf("ingest of a symlinked directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if sum := decodeSummary(t, r); sum.Inputs != 2 || sum.Read != 2 || sum.Events != 65 {
		t.Errorf("summary %+v; want 2 inputs read and 65 events", sum)
	}

	// A loop, and an empty directory: reported, exit 3, the rest read.
	symlink(t, "..", filepath.Join(dir, "real/2025/10/01/up"))
	writeFile(t, filepath.Join(dir, "real/2025/10/02/E1.2025-10-02-01.c"), standardLog(3, 5))
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = c.run("ingest", filepath.Join(dir, "logs"), filepath.Join(dir, "empty"))
	if r.code != exitPartial {
		t.Errorf("ingest with a loop and an empty directory: exit %d, want %d\n%s%s", r.code, exitPartial, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"inputs:                5 (1 read, 2 skipped, 2 failed)",
		"events stored:         5",
		filepath.Join(dir, "logs/2025/10/01/up") + ": symbolic link loop: leads back to " + filepath.Join(dir, "logs/2025/10"),
		filepath.Join(dir, "empty") + ": no files in this directory",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestFutureHorizon rejects requests dated more than the horizon after
// the time of reading, set by future_horizon or --future-horizon.
func TestFutureHorizon(t *testing.T) {
	now := time.Date(2025, 10, 2, 12, 0, 0, 0, time.UTC)
	gen := loggen.New(loggen.Config{Seed: 5, Start: now, Span: time.Hour, Customers: 1, KeysPerCustomer: 1})
	log := func(name string, times ...time.Time) string {
		b := []byte(loggen.Header(loggen.StandardFields))
		for _, at := range times {
			var r loggen.Record
			gen.Next(&r)
			r.Time = at
			b = r.AppendLine(b, loggen.StandardFields)
		}
		path := filepath.Join(t.TempDir(), name)
		writeFile(t, path, string(b))
		return path
	}
	c := newCLI(t)
	c.now = func() time.Time { return now }
	r := c.run("ingest", "--json", log("a.log", now.Add(-time.Hour), now.Add(30*time.Hour), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)))
	if sum := decodeSummary(t, r); r.code != 0 || sum.Events != 1 || sum.Rejected != 2 {
		t.Errorf("default horizon: exit %d, %+v; want 1 event, 2 rejected", r.code, sum)
	}
	out := c.ok("rejects", "--format", "csv")
	if strings.Count(out, `,date,"time in the future: `) != 2 || !strings.Contains(out, "2099-01-01T00:00:00Z is more than 24h ahead of the time of reading, 2025-10-02T12:00:00Z") {
		t.Errorf("rejects:\n%s", out)
	}

	r = c.run("ingest", "--json", "--future-horizon", "36h", log("b.log", now.Add(30*time.Hour)))
	if sum := decodeSummary(t, r); r.code != 0 || sum.Events != 1 || sum.Rejected != 0 {
		t.Errorf("--future-horizon 36h: exit %d, %+v", r.code, sum)
	}
	cfgFile := filepath.Join(t.TempDir(), "keymeter.yaml")
	writeFile(t, cfgFile, "future_horizon: 2h\n")
	r = c.run("ingest", "--json", "--config", cfgFile, log("c.log", now.Add(90*time.Minute), now.Add(150*time.Minute)))
	if sum := decodeSummary(t, r); r.code != 0 || sum.Events != 1 || sum.Rejected != 1 {
		t.Errorf("future_horizon: 2h: exit %d, %+v", r.code, sum)
	}

	writeFile(t, cfgFile, "future_horizon: -1h\n")
	for _, args := range [][]string{{"--future-horizon", "soon"}, {"--future-horizon", "0s"}, {"--config", cfgFile}} {
		r := c.run(append(append([]string{"ingest"}, args...), log("d.log", now))...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "future_horizon: ") || !strings.Contains(r.stderr, "positive duration") {
			t.Errorf("ingest %v: exit %d, stderr %s", args, r.code, r.stderr)
		}
	}
}

// s3rverBucket creates a bucket on the s3rver started by
// scripts/testenv.sh and returns the server's endpoint, the bucket and a
// function that writes an object into it.
func s3rverBucket(t *testing.T) (endpoint, bucket string, put func(key string, body []byte)) {
	endpoint = serverEndpoint(t, "S3_ENDPOINT")
	awsTestEnv(t)
	api := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	var rb [6]byte
	crand.Read(rb[:])
	bucket = "keymeter-detect-" + hex.EncodeToString(rb[:])
	if _, err := api.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return endpoint, bucket, func(key string, body []byte) {
		t.Helper()
		_, err := api.PutObject(context.Background(), &awss3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// firehosePayloads returns n generated API Gateway requests as a Firehose
// object of CloudWatch Logs subscription payloads, and how many there
// are.
func firehosePayloads(seed uint64, n int) ([]byte, int) {
	gen := loggen.New(loggen.Config{Seed: seed, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 2, KeysPerCustomer: 1, NoKeyPercent: 10})
	var evs []loggen.CloudWatchEvent
	for range n {
		var r loggen.Record
		gen.Next(&r)
		if r.ReachesOrigin() {
			evs = append(evs, r.CloudWatchEventOf(loggen.APIGatewayOptions{}))
		}
	}
	const group = "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
	half := len(evs) / 2
	obj := loggen.Gzip(append(loggen.CloudWatchControlMessage(), loggen.CloudWatchPayload(group, "s1", evs[:half])...))
	obj = append(obj, loggen.Gzip(loggen.CloudWatchPayload(group, "s2", evs[half:]))...)
	return obj, len(evs)
}

// TestDetectS3 ingests S3 objects of two formats from s3rver: with a
// --format, the other object is reported with what it looks like and not
// recorded, so that a run with the right --format reads it; without one,
// each is read with its own.
func TestDetectS3(t *testing.T) {
	endpoint, bucket, put := s3rverBucket(t)
	payloads, origin := firehosePayloads(7, 300)
	put("logs/apigw/2025/10/01/00/amazon-apigateway-logs-1-2025-10-01-00-00-00-x", payloads)
	put("logs/cf/E1.2025-10-01-00.a.gz", gzipBytes(t, standardLog(8, 120)))
	src := "s3://" + bucket + "/logs/"
	payloadURI := src + "apigw/2025/10/01/00/amazon-apigateway-logs-1-2025-10-01-00-00-00-x"

	c := newCLI(t)
	r := c.run("ingest", "--format", "cloudfront", "--endpoint", endpoint, "--json", src)
	sum := decodeSummary(t, r)
	if r.code != exitPartial || sum.Read != 1 || sum.Events != 120 || sum.Rejected != 0 || len(sum.Failed) != 1 ||
		sum.Failed[0].URI != payloadURI ||
		sum.Failed[0].Reason != "looks like a CloudWatch Logs subscription payload, not a CloudFront standard log; use --format apigateway" {
		t.Errorf("--format cloudfront: exit %d, %+v", r.code, sum)
	}
	r = c.run("ingest", "--format", "apigateway", "--endpoint", endpoint, "--json", src)
	if sum := decodeSummary(t, r); r.code != 0 || sum.Read != 1 || len(sum.Skipped) != 1 || sum.Events != int64(origin) || sum.Rejected != 0 {
		t.Errorf("then --format apigateway: exit %d, %+v; want the payloads' %d events", r.code, sum, origin)
	}

	c = newCLI(t)
	r = c.run("ingest", "--endpoint", endpoint, "--json", src)
	if sum := decodeSummary(t, r); r.code != 0 || sum.Read != 2 || sum.Events != int64(origin)+120 || sum.Rejected != 0 {
		t.Errorf("without --format: exit %d, %+v; want %d events", r.code, sum, origin+120)
	}
	out := c.ok("usage", "--from", "2025-10-01", "--to", "2025-10-03", "--by", "source", "--format", "csv")
	// By default the CloudFront requests are the edge join's.
	if !strings.Contains(out, "apigateway,"+strconv.Itoa(origin)+",") || !strings.Contains(out, "edge,120,") {
		t.Errorf("usage by source:\n%s", out)
	}
}
