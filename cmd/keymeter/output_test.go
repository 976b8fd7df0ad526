package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// failingWriter fails every write.
type failingWriter struct{}

var errBroken = errors.New("the output is broken")

func (failingWriter) Write([]byte) (int, error) { return 0, errBroken }

// TestOutputErrors checks that a command whose output cannot be written
// fails (exit 1, the error on stderr) instead of reporting success.
func TestOutputErrors(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"version"},
		{"keys", "import", "../../testdata/sample/keys.csv", "--data", c.data},
		{"ingest", "--quiet", "../../testdata/sample/logs", "--data", c.data},
		{"customers", "remove", "nobody", "--data", c.data}, // fails by itself: its own error wins
	} {
		var errb bytes.Buffer
		m := &Main{Stdin: strings.NewReader(""), Stdout: failingWriter{}, Stderr: &errb, Getenv: func(k string) string { return c.env[k] }}
		code := m.report(m.Run(context.Background(), args))
		want := "keymeter: write output: " + errBroken.Error()
		if args[0] == "customers" {
			want = "no plan assignment"
			if code == exitOK {
				t.Errorf("keymeter %s: exit 0", strings.Join(args, " "))
			}
		} else if code != exitError {
			t.Errorf("keymeter %s with a broken stdout: exit %d, want %d", strings.Join(args, " "), code, exitError)
		}
		if !strings.Contains(errb.String(), want) {
			t.Errorf("keymeter %s with a broken stdout: stderr %q, want %q", strings.Join(args, " "), errb.String(), want)
		}
	}
}

// TestFollowS3OutputError follows an S3 prefix with an output that
// breaks: the follower stops with the error instead of reading on
// without telling anyone. Its report line is stamped with Main's clock.
func TestFollowS3OutputError(t *testing.T) {
	endpoint := serverEndpoint(t, "S3_ENDPOINT")
	awsTestEnv(t)
	api := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	var rb [6]byte
	rand.Read(rb[:])
	bucket := "keymeter-follow-" + hex.EncodeToString(rb[:])
	if _, err := api.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../testdata/sample/logs/2025/10/01/E1SAMPLE0EXAMPLE.2025-10-01-00.01.gz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("logs/a.gz"),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 10, 15, 12, 0, 0, 0, time.UTC)
	follow := func(c *cli, extra ...string) []string {
		return append([]string{"ingest", "--follow", "--interval", "100ms", "--endpoint", endpoint, "s3://" + bucket + "/logs/", "--data", c.data}, extra...)
	}
	for _, extra := range [][]string{nil, {"--json"}} {
		c := newCLI(t)
		var errb lockedBuffer
		m := &Main{Stdin: strings.NewReader(""), Stdout: failingWriter{}, Stderr: &errb, Getenv: func(k string) string { return c.env[k] }}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := m.report(m.Run(ctx, follow(c, extra...)))
		stopped := ctx.Err() == nil
		cancel()
		if !stopped || code != exitError || !strings.Contains(errb.String(), errBroken.Error()) {
			t.Errorf("ingest --follow %v, whose output is broken: stopped %v, exit %d, stderr %q; want it stopped, exit 1, and the error",
				extra, stopped, code, errb.String())
		}
	}

	c := newCLI(t)
	var out, errb lockedBuffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return c.env[k] },
		Now: func() time.Time { return now }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- m.report(m.Run(ctx, follow(c))) }()
	waitFor(t, "the follower to ingest the object", func() bool { return strings.Contains(out.String(), "new objects") })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("follower: exit %d: %s", code, errb.String())
	}
	if want := now.Format(time.RFC3339) + "  1 new objects"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("the follower's line %q does not start with Main's clock: want %q", out.String(), want)
	}
}
