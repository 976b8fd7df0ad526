// Package s3 is the S3 source: it lists the objects under a bucket prefix
// and streams their bytes, from AWS S3 or any S3-compatible server. It
// deals in objects and bytes only; it does not know any log format, nor
// which objects were ingested before (ingest asks the store, by URI and
// ETag).
//
// Objects are streamed straight from the GetObject response body: nothing
// is buffered whole, so objects of any size are read in constant memory.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/keymeter/keymeter"
)

// Config says how to reach S3. The zero value reaches AWS S3 with the
// region and credentials of the environment.
type Config struct {
	// Endpoint is the base URL of an S3-compatible server, such as
	// "http://127.0.0.1:4569"; empty means AWS S3.
	Endpoint string
	// Region is the region requests are signed for. Empty means the
	// region of the AWS environment (AWS_REGION, the shared config file),
	// or us-east-1 when it names none.
	Region string
	// PathStyle addresses buckets in the path (http://host/bucket/key)
	// rather than in the host name (http://bucket.host/key). Most
	// S3-compatible servers need it; the CLI turns it on with --endpoint.
	PathStyle bool
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials. When AccessKeyID is empty, the standard AWS credential
	// chain is used: environment, shared credentials and config files
	// (profiles, SSO), web identity, then ECS and EC2 instance roles.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// PageSize is the number of keys asked for per ListObjectsV2 call;
	// 0 means the server's default (1000 for AWS).
	PageSize int32
}

// Client lists and reads S3 objects. It is safe for concurrent use.
type Client struct {
	api      *awss3.Client
	pageSize int32
}

// New returns a client for cfg. It reads the AWS configuration of the
// environment but makes no request: credentials are resolved, and
// checked, on first use.
func New(ctx context.Context, cfg Config) (*Client, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	api := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// S3-compatible servers often send no checksum; that is not worth
		// a warning on every object.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &Client{api: api, pageSize: cfg.PageSize}, nil
}

// ParseURL splits an "s3://BUCKET/PREFIX" URL into its bucket and key
// prefix. The prefix may be empty ("s3://BUCKET" or "s3://BUCKET/") and is
// a plain key prefix: "s3://b/logs" also covers "logs2/x.gz". A malformed
// URL yields a *keymeter.Error with code EINVALID.
func ParseURL(u string) (bucket, prefix string, err error) {
	const scheme = "s3://"
	if len(u) < len(scheme) || !strings.EqualFold(u[:len(scheme)], scheme) {
		return "", "", keymeter.Errorf(keymeter.EINVALID, "%q is not an S3 URL (want s3://BUCKET/PREFIX)", u)
	}
	bucket, prefix, _ = strings.Cut(u[len(scheme):], "/")
	if bucket == "" {
		return "", "", keymeter.Errorf(keymeter.EINVALID, "%q names no bucket (want s3://BUCKET/PREFIX)", u)
	}
	return bucket, prefix, nil
}

// URI returns the s3:// URI of an object, as keymeter stores it.
func URI(bucket, key string) string {
	return "s3://" + bucket + "/" + key
}

// Object is one S3 object to ingest.
type Object struct {
	// Object is what keymeter records of it: URI "s3://bucket/key", Size,
	// ModTime (S3's LastModified, UTC) and ETag (without quotes). The
	// store recognises an object ingested before by URI and ETag.
	Object keymeter.Object
	Bucket string
	Key    string
}

// List returns the objects whose keys start with prefix, in key order,
// following ListObjectsV2 pagination as the caller consumes them. Keys
// ending in "/" (folder markers made by consoles) are left out. On
// failure it yields one error and stops: a *keymeter.Error naming the
// bucket when the bucket does not exist (ENOTFOUND) or access is denied
// (EINVALID), a wrapped error otherwise.
func (c *Client) List(ctx context.Context, bucket, prefix string) iter.Seq2[Object, error] {
	return c.ListAfter(ctx, bucket, prefix, "")
}

// ListAfter is List restricted to the keys after key after (all keys when
// after is ""): a cheaper poll of a prefix whose new objects always sort
// last, such as Firehose's (YYYY/MM/DD/HH/ by arrival time). CloudFront
// standard log names carry the hour of the requests, not of delivery,
// and files arrive up to a day late: poll those with a margin, or in full.
func (c *Client) ListAfter(ctx context.Context, bucket, prefix, after string) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		in := &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		if after != "" {
			in.StartAfter = aws.String(after)
		}
		pages := awss3.NewListObjectsV2Paginator(c.api, in, func(o *awss3.ListObjectsV2PaginatorOptions) {
			o.Limit = c.pageSize
			o.StopOnDuplicateToken = true
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(Object{}, apiError(err, "list", URI(bucket, prefix), bucket))
				return
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if key == "" || strings.HasSuffix(key, "/") {
					continue
				}
				obj := Object{Bucket: bucket, Key: key, Object: keymeter.Object{
					URI:     URI(bucket, key),
					Size:    aws.ToInt64(o.Size),
					ModTime: aws.ToTime(o.LastModified).UTC(),
					ETag:    unquote(aws.ToString(o.ETag)),
				}}
				if !yield(obj, nil) {
					return
				}
			}
		}
	}
}

// Open returns the bytes of obj as stored (still compressed, if it is),
// streamed from S3; the caller must close the reader. When obj has an
// ETag, Open reads that version only: an object rewritten since it was
// listed yields a *keymeter.Error with code ECONFLICT, so that the ETag
// recorded as ingested is the ETag of the bytes read. A missing object
// yields ENOTFOUND, and access denied EINVALID, both naming the object.
func (c *Client) Open(ctx context.Context, obj Object) (io.ReadCloser, error) {
	uri := URI(obj.Bucket, obj.Key)
	in := &awss3.GetObjectInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key)}
	if etag := obj.Object.ETag; etag != "" {
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	out, err := c.api.GetObject(ctx, in)
	if err != nil {
		if isPreconditionFailed(err) {
			return nil, changedError(uri, obj.Object.ETag)
		}
		return nil, apiError(err, "read", uri, obj.Bucket)
	}
	// Not every S3-compatible server honours If-Match; check it here too.
	if got := unquote(aws.ToString(out.ETag)); obj.Object.ETag != "" && got != "" && got != obj.Object.ETag {
		out.Body.Close()
		return nil, changedError(uri, obj.Object.ETag)
	}
	return out.Body, nil
}

// Stat returns the object at bucket/key, as List would, without reading
// it: for ingesting one named object.
func (c *Client) Stat(ctx context.Context, bucket, key string) (Object, error) {
	out, err := c.api.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return Object{}, apiError(err, "stat", URI(bucket, key), bucket)
	}
	return Object{Bucket: bucket, Key: key, Object: keymeter.Object{
		URI:     URI(bucket, key),
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified).UTC(),
		ETag:    unquote(aws.ToString(out.ETag)),
	}}, nil
}

func unquote(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
}

func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}

func changedError(uri, etag string) error {
	return keymeter.Errorf(keymeter.ECONFLICT, "%s changed while it was being ingested (it is no longer ETag %s); run again to read the new version", uri, etag)
}

// apiError turns an S3 failure of operation op on uri into an error a
// user can act on.
func apiError(err error, op, uri, bucket string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code, status, msg := "", 0, ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if msg != "" {
		msg = " (" + msg + ")"
	}
	switch {
	case code == "NoSuchBucket":
		return keymeter.Errorf(keymeter.ENOTFOUND, "%s %s: bucket %q does not exist%s", op, uri, bucket, msg)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		return keymeter.Errorf(keymeter.ENOTFOUND, "%s %s: no such object (or bucket %q does not exist)%s", op, uri, bucket, msg)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken" || code == "InvalidToken":
		return keymeter.Errorf(keymeter.EINVALID, "%s %s: the AWS credentials were refused (%s)%s; check the access key, secret and session token", op, uri, code, msg)
	case code == "AccessDenied" || status == http.StatusForbidden:
		return keymeter.Errorf(keymeter.EINVALID, "%s %s: access denied to bucket %q%s; check the credentials and the bucket policy", op, uri, bucket, msg)
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == http.StatusMovedPermanently:
		return keymeter.Errorf(keymeter.EINVALID, "%s %s: bucket %q is in another region%s; pass its region with --region", op, uri, bucket, msg)
	}
	return fmt.Errorf("%s %s: %w", op, uri, err)
}
