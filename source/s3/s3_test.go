package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/keymeter/keymeter"
)

// Credentials the test servers accept: s3rver checks signatures against
// the secret "S3RVER"; gofakes3 accepts anything.
const (
	testKeyID  = "S3RVER"
	testSecret = "S3RVER"
)

// TestGoFakeS3 runs the suite against an in-process gofakes3 server.
func TestGoFakeS3(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	runSuite(t, srv.URL, false)
}

// TestS3rver runs the suite against s3rver, started by scripts/testenv.sh.
func TestS3rver(t *testing.T) {
	runSuite(t, serverEndpoint(t, "S3_ENDPOINT"), true)
}

// serverEndpoint returns the endpoint of an external test server from
// env var name. Without it the test is skipped, unless
// KEYMETER_REQUIRE_SERVERS=1 says the servers were meant to be running.
func serverEndpoint(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("KEYMETER_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s is not set but KEYMETER_REQUIRE_SERVERS=1: run the tests with scripts/testenv.sh", name)
		}
		t.Skipf("%s is not set; run the tests with scripts/testenv.sh to test against a real server", name)
	}
	return v
}

// testObjects are put under a fresh bucket; "logs/" is the prefix listed.
var testObjects = map[string][]byte{
	"logs/2024/01/01/E2.2024-01-01-00.a.gz": gzipped("line 1\nline 2\n"),
	"logs/2024/01/01/E2.2024-01-01-01.b.gz": gzipped("line 3\n"),
	"logs/2024/01/02/firehose-1":            []byte("1700000000.000\t1.2.3.4\n"),
	"logs/2024/01/02/firehose-2":            []byte("1700000001.000\t1.2.3.5\n"),
	"logs/2024/01/02/firehose-3":            {},
	"logs/2024/01/03/with space+plus.gz":    gzipped("line 4\n"),
	"logs/folder/":                          {}, // a console folder marker
	"other/not-listed.gz":                   gzipped("no\n"),
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// adminClient is a plain SDK client for setting up test buckets.
func adminClient(endpoint string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,

		DisableLogOutputChecksumValidationSkipped: true,
	})
}

func put(t *testing.T, api *awss3.Client, bucket, key string, body []byte) {
	t.Helper()
	_, err := api.PutObject(context.Background(), &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func newBucket(t *testing.T, api *awss3.Client) string {
	t.Helper()
	var r [6]byte
	rand.Read(r[:])
	bucket := "keymeter-test-" + hex.EncodeToString(r[:])
	if _, err := api.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return bucket
}

func runSuite(t *testing.T, endpoint string, checksSignatures bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api := adminClient(endpoint)
	bucket := newBucket(t, api)
	for key, body := range testObjects {
		put(t, api, bucket, key, body)
	}
	c, err := New(ctx, Config{
		Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: testKeyID, SecretAccessKey: testSecret,
		PageSize: 2, // several pages for 6 objects
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("List", func(t *testing.T) {
		var got []Object
		for o, err := range c.List(ctx, bucket, "logs/") {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, o)
		}
		var want []string
		for k := range testObjects {
			if strings.HasPrefix(k, "logs/") && !strings.HasSuffix(k, "/") {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		if len(got) != len(want) {
			t.Fatalf("List returned %d objects, want %d: %v", len(got), len(want), got)
		}
		for i, o := range got {
			body := testObjects[o.Key]
			sum := md5.Sum(body)
			switch {
			case o.Key != want[i]:
				t.Errorf("object %d is %q, want %q", i, o.Key, want[i])
			case o.Bucket != bucket || o.Object.URI != "s3://"+bucket+"/"+want[i]:
				t.Errorf("object %q: bucket %q, URI %q", o.Key, o.Bucket, o.Object.URI)
			case o.Object.Size != int64(len(body)):
				t.Errorf("object %q: size %d, want %d", o.Key, o.Object.Size, len(body))
			case o.Object.ETag != hex.EncodeToString(sum[:]):
				t.Errorf("object %q: ETag %q, want the MD5 %x without quotes", o.Key, o.Object.ETag, sum)
			case o.Object.ModTime.IsZero() || o.Object.ModTime.Location() != time.UTC:
				t.Errorf("object %q: ModTime %v", o.Key, o.Object.ModTime)
			}
		}
	})

	t.Run("ListStopsEarly", func(t *testing.T) {
		n := 0
		for _, err := range c.List(ctx, bucket, "") {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 {
			t.Errorf("read %d objects", n)
		}
	})

	t.Run("ListAfter", func(t *testing.T) {
		var got []string
		for o, err := range c.ListAfter(ctx, bucket, "logs/", "logs/2024/01/02/firehose-1") {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, o.Key)
		}
		want := []string{"logs/2024/01/02/firehose-2", "logs/2024/01/02/firehose-3", "logs/2024/01/03/with space+plus.gz"}
		if !slices.Equal(got, want) {
			t.Errorf("ListAfter = %q, want %q", got, want)
		}
	})

	t.Run("ListEmptyPrefix", func(t *testing.T) {
		for o, err := range c.List(ctx, bucket, "nothing/here/") {
			t.Fatalf("List of an empty prefix yielded %v, %v", o, err)
		}
	})

	t.Run("Open", func(t *testing.T) {
		for o, err := range c.List(ctx, bucket, "logs/") {
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Open(ctx, o)
			if err != nil {
				t.Fatalf("open %s: %v", o.Key, err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, testObjects[o.Key]) {
				t.Errorf("read %s: %q, %v; want %q", o.Key, got, err, testObjects[o.Key])
			}
		}
	})

	t.Run("OpenStreamsLargeObject", func(t *testing.T) {
		big := make([]byte, 12<<20)
		rand.Read(big)
		put(t, api, bucket, "big/object.bin", big)
		o, err := c.Stat(ctx, bucket, "big/object.bin")
		if err != nil {
			t.Fatal(err)
		}
		if o.Object.Size != int64(len(big)) || o.Object.URI != URI(bucket, "big/object.bin") {
			t.Fatalf("Stat = %+v", o)
		}
		r, err := c.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		// Read in small steps: the body is a stream, not a buffer.
		h := md5.New()
		n, err := io.CopyBuffer(h, r, make([]byte, 4096))
		if err != nil || n != int64(len(big)) {
			t.Fatalf("read %d bytes, %v", n, err)
		}
		want := md5.Sum(big)
		if !bytes.Equal(h.Sum(nil), want[:]) {
			t.Error("content differs")
		}
	})

	t.Run("OpenChangedObject", func(t *testing.T) {
		put(t, api, bucket, "changing/x", []byte("version 1"))
		o, err := c.Stat(ctx, bucket, "changing/x")
		if err != nil {
			t.Fatal(err)
		}
		put(t, api, bucket, "changing/x", []byte("version 2, longer"))
		_, err = c.Open(ctx, o)
		if keymeter.ErrorCode(err) != keymeter.ECONFLICT || !strings.Contains(err.Error(), "changed") {
			t.Errorf("Open of a rewritten object = %v, want a conflict", err)
		}
	})

	t.Run("OpenMissingObject", func(t *testing.T) {
		_, err := c.Open(ctx, Object{Bucket: bucket, Key: "logs/gone.gz"})
		if keymeter.ErrorCode(err) != keymeter.ENOTFOUND || !strings.Contains(err.Error(), "s3://"+bucket+"/logs/gone.gz") {
			t.Errorf("Open of a missing object = %v", err)
		}
	})

	t.Run("NoSuchBucket", func(t *testing.T) {
		const missing = "keymeter-no-such-bucket"
		for _, err := range c.List(ctx, missing, "logs/") {
			if keymeter.ErrorCode(err) != keymeter.ENOTFOUND || !strings.Contains(err.Error(), `bucket "`+missing+`" does not exist`) {
				t.Errorf("List of a missing bucket = %v", err)
			}
			return
		}
		t.Error("List of a missing bucket yielded nothing")
	})

	if checksSignatures {
		t.Run("UnknownAccessKey", func(t *testing.T) {
			bad, err := New(ctx, Config{Endpoint: endpoint, PathStyle: true, AccessKeyID: "NOT-A-KEY", SecretAccessKey: "wrong"})
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range bad.List(ctx, bucket, "logs/") {
				if keymeter.ErrorCode(err) != keymeter.EINVALID || !strings.Contains(err.Error(), bucket) {
					t.Errorf("List with an unknown access key = %v", err)
				}
				return
			}
			t.Error("List with an unknown access key yielded nothing")
		})
	}
}

// TestAccessDenied checks the error for a bucket the credentials may not
// read, as AWS reports it (the test servers have no bucket policies).
func TestAccessDenied(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R1</RequestId></Error>`)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := New(ctx, Config{Endpoint: srv.URL, PathStyle: true, AccessKeyID: testKeyID, SecretAccessKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range c.List(ctx, "private-logs", "cf/") {
		want := `list s3://private-logs/cf/: access denied to bucket "private-logs" (Access Denied); check the credentials and the bucket policy`
		if keymeter.ErrorCode(err) != keymeter.EINVALID || err.Error() != want {
			t.Errorf("List = %v\nwant %s", err, want)
		}
		return
	}
	t.Error("List yielded nothing")
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in             string
		bucket, prefix string
		ok             bool
	}{
		{"s3://my-logs/cloudfront/E2/", "my-logs", "cloudfront/E2/", true},
		{"s3://my-logs/a/b", "my-logs", "a/b", true},
		{"S3://my-logs", "my-logs", "", true},
		{"s3://my-logs/", "my-logs", "", true},
		{"s3://", "", "", false},
		{"s3:///prefix", "", "", false},
		{"https://my-logs.s3.amazonaws.com/x", "", "", false},
		{"my-logs/x", "", "", false},
	}
	for _, tt := range tests {
		b, p, err := ParseURL(tt.in)
		if (err == nil) != tt.ok || b != tt.bucket || p != tt.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v", tt.in, b, p, err)
		}
		if err != nil && keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("ParseURL(%q) error code %s", tt.in, keymeter.ErrorCode(err))
		}
	}
}

func ExampleParseURL() {
	bucket, prefix, _ := ParseURL("s3://my-logs/AWSLogs/123456789012/CloudFront/")
	fmt.Println(bucket, prefix)
	// Output: my-logs AWSLogs/123456789012/CloudFront/
}
