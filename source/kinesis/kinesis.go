// Package kinesis is the Kinesis Data Streams source: it lists a stream's
// shards with their lineage and reads their records, in order, from a
// checkpoint. It deals in records and sequence numbers only; it does not
// know any log format, and it stores nothing.
//
// # Checkpoints
//
// A checkpoint is the sequence number of the last record of a shard whose
// events are stored; reading resumes just after it (AFTER_SEQUENCE_NUMBER),
// or from the oldest record kept (TRIM_HORIZON) for a shard without one.
// Persisting checkpoints is the caller's job, and the whole of the
// exactly-once argument rests on one rule: store a shard's checkpoint in
// the same transaction as the events of the records up to it. Records
// handed to the caller are then either stored with their checkpoint, or
// not stored and read again after a restart; a crash or kill at any point
// neither loses nor double counts a record. (Kinesis itself may deliver a
// record twice when a producer retries; that is for deduplication on the
// request ID, not for checkpoints.)
//
// # Resharding
//
// Splitting or merging shards closes the parents (their EndingSequence is
// set) and opens children. Stream.ReadAll reads a child only once all its
// parents are read to the end, so a key's records are met in order across
// resharding; parents already past the retention period are no longer
// listed and count as read.
package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/keymeter/keymeter"
)

// Config says how to reach Kinesis and how to read. The zero value reads
// from AWS with the region and credentials of the environment, stopping
// once caught up.
type Config struct {
	// Endpoint is the base URL of a Kinesis-compatible server, such as
	// "http://127.0.0.1:4567"; empty means AWS.
	Endpoint string
	// Region is the stream's region. Empty means the region of the AWS
	// environment (AWS_REGION, the shared config file), or us-east-1 when
	// it names none.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials. When AccessKeyID is empty, the standard AWS credential
	// chain is used: environment, shared credentials and config files
	// (profiles, SSO), web identity, then ECS and EC2 instance roles.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// Follow keeps reading after catching up with a shard's tip, until
	// the context is cancelled. Without it, a shard is read until caught
	// up (see Read), or to its end if it is closed.
	Follow bool
	// Limit is the most records asked for per GetRecords call; 0 means
	// 10000, the most Kinesis allows.
	Limit int32
	// PollInterval is the wait before asking a caught-up shard again,
	// when following; 0 means 1 s.
	PollInterval time.Duration
	// MinInterval is the least time between two GetRecords calls on one
	// shard; 0 means 200 ms (Kinesis allows five calls per second per
	// shard, shared by every consumer).
	MinInterval time.Duration
	// Backoff is the first wait after Kinesis throttles a call
	// (ProvisionedThroughputExceeded, LimitExceeded); it doubles up to
	// MaxBackoff, and is reset by a successful call. 0 means 1 s.
	Backoff time.Duration
	// MaxBackoff caps Backoff; 0 means 30 s.
	MaxBackoff time.Duration
	// RetryMaxAttempts is the number of attempts the AWS SDK makes of
	// each call before Read sees the error; 0 means the SDK's default.
	RetryMaxAttempts int
}

func (c *Config) setDefaults() {
	if c.Limit <= 0 || c.Limit > 10000 {
		c.Limit = 10000
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.MinInterval <= 0 {
		c.MinInterval = 200 * time.Millisecond
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	c.MaxBackoff = max(c.MaxBackoff, c.Backoff)
}

// ParseURL returns the stream named by a "kinesis://STREAM" URL. STREAM is
// a stream name or a stream ARN. A malformed URL yields a *keymeter.Error
// with code EINVALID.
func ParseURL(u string) (string, error) {
	const scheme = "kinesis://"
	if len(u) < len(scheme) || !strings.EqualFold(u[:len(scheme)], scheme) {
		return "", keymeter.Errorf(keymeter.EINVALID, "%q is not a Kinesis URL (want kinesis://STREAM)", u)
	}
	name := u[len(scheme):]
	if !strings.HasPrefix(name, "arn:") {
		name = strings.TrimSuffix(name, "/")
	}
	if name == "" || !strings.HasPrefix(name, "arn:") && strings.Contains(name, "/") {
		return "", keymeter.Errorf(keymeter.EINVALID, "%q names no stream (want kinesis://STREAM)", u)
	}
	return name, nil
}

// Stream reads one Kinesis data stream. It is safe for concurrent use.
type Stream struct {
	api  *awskinesis.Client
	name string // stream name, or ARN
	arn  bool
	cfg  Config
}

// Open returns a reader of the stream called name (or with ARN name),
// after checking that the stream exists: a missing stream yields a
// *keymeter.Error with code ENOTFOUND, refused credentials or access
// EINVALID.
func Open(ctx context.Context, cfg Config, name string) (*Stream, error) {
	cfg.setDefaults()
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.RetryMaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.RetryMaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	api := awskinesis.NewFromConfig(awsCfg, func(o *awskinesis.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	s := &Stream{api: api, name: name, arn: strings.HasPrefix(name, "arn:"), cfg: cfg}
	in := &awskinesis.DescribeStreamSummaryInput{}
	in.StreamName, in.StreamARN = s.ids()
	if _, err := s.api.DescribeStreamSummary(ctx, in); err != nil {
		return nil, s.apiError(err, "open", "")
	}
	return s, nil
}

// Name returns the stream's name or ARN, as given to Open.
func (s *Stream) Name() string { return s.name }

// ids returns the StreamName and StreamARN request members.
func (s *Stream) ids() (name, arn *string) {
	if s.arn {
		return nil, aws.String(s.name)
	}
	return aws.String(s.name), nil
}

// Shard is one shard of a stream.
type Shard struct {
	ID string
	// Parents are the shards this one was split from (one) or merged
	// from (two); none for a shard the stream was created with.
	Parents []string
	// StartingSequence is the shard's first sequence number.
	StartingSequence string
	// EndingSequence is the shard's last sequence number once resharding
	// has closed it, and "" while it is open.
	EndingSequence string
}

// Closed reports whether resharding has closed the shard: it takes no new
// records, and its children take over once it is read to the end.
func (sh Shard) Closed() bool { return sh.EndingSequence != "" }

// Shards lists the stream's shards, open and closed (within the retention
// period), following ListShards pagination.
func (s *Stream) Shards(ctx context.Context) ([]Shard, error) {
	var shards []Shard
	in := &awskinesis.ListShardsInput{}
	in.StreamName, in.StreamARN = s.ids()
	backoff := s.cfg.Backoff
	for {
		out, err := s.api.ListShards(ctx, in)
		if err != nil {
			if throttled(err) {
				if err := sleep(ctx, backoff); err != nil {
					return nil, err
				}
				backoff = min(2*backoff, s.cfg.MaxBackoff)
				continue
			}
			return nil, s.apiError(err, "list shards of", "")
		}
		backoff = s.cfg.Backoff
		for _, sh := range out.Shards {
			shard := Shard{ID: aws.ToString(sh.ShardId)}
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if aws.ToString(p) != "" {
					shard.Parents = append(shard.Parents, *p)
				}
			}
			if r := sh.SequenceNumberRange; r != nil {
				shard.StartingSequence = aws.ToString(r.StartingSequenceNumber)
				shard.EndingSequence = aws.ToString(r.EndingSequenceNumber)
			}
			shards = append(shards, shard)
		}
		if aws.ToString(out.NextToken) == "" {
			return shards, nil
		}
		// A continuation names the stream by its token alone.
		in = &awskinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// Record is one Kinesis record. The reader does not reuse records or
// their Data: callers may keep them.
type Record struct {
	Data           []byte
	SequenceNumber string
	PartitionKey   string
	// ArrivalTime is when Kinesis accepted the record (its
	// ApproximateArrivalTimestamp).
	ArrivalTime time.Time
}

// ReadFunc receives a shard's records, one GetRecords page at a time, in
// sequence order. lastSeq is the checkpoint after the page: the sequence
// number of its last record, or the previous checkpoint when the page is
// empty (empty pages are passed on to report lag). millisBehind is how
// far the page is behind the shard's tip, in milliseconds; 0 means caught
// up. An error stops the reading and is returned as it is.
type ReadFunc func(recs []Record, lastSeq string, millisBehind int64) error

// Read reads shard shardID from just after sequence number after (from
// the oldest record kept when after is ""), calling fn for each page of
// records. It returns when the shard is closed and read to the end
// (closed is true: its children may now be read), when the shard is
// caught up and Config.Follow is off, when fn fails (with fn's error as it
// is), or when ctx is done (with ctx's error).
//
// A shard is caught up when a page at the tip (MillisBehindLatest 0,
// fewer records than Limit) is empty or follows another page at the tip:
// so a closed shard is always read to its end, and a busy one does not
// keep Read going for ever. Throttling is waited out with exponential
// backoff, and an iterator that expires while fn is slow is renewed from
// the last checkpoint.
func (s *Stream) Read(ctx context.Context, shardID, after string, fn ReadFunc) (closed bool, err error) {
	return s.read(ctx, shardID, after, false, fn)
}

// read is Read; knownClosed says that the shard was listed as closed, so
// that it is read to its end whatever the pages say.
func (s *Stream) read(ctx context.Context, shardID, after string, knownClosed bool, fn ReadFunc) (closed bool, err error) {
	iter, err := s.iterator(ctx, shardID, after)
	if err != nil {
		return false, err
	}
	last := after
	backoff := s.cfg.Backoff
	tip := false // the previous page was at the tip
	var lastCall time.Time
	for {
		if err := sleep(ctx, s.cfg.MinInterval-time.Since(lastCall)); err != nil {
			return false, err
		}
		lastCall = time.Now()
		out, err := s.api.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(s.cfg.Limit)})
		switch {
		case err == nil:
			backoff = s.cfg.Backoff
		case throttled(err):
			if err := sleep(ctx, backoff); err != nil {
				return false, err
			}
			backoff = min(2*backoff, s.cfg.MaxBackoff)
			continue
		case isExpired(err):
			if iter, err = s.iterator(ctx, shardID, last); err != nil {
				return false, err
			}
			continue
		default:
			return false, s.apiError(err, "read", shardID)
		}
		recs := make([]Record, len(out.Records))
		for i, r := range out.Records {
			recs[i] = Record{
				Data:           r.Data,
				SequenceNumber: aws.ToString(r.SequenceNumber),
				PartitionKey:   aws.ToString(r.PartitionKey),
				ArrivalTime:    aws.ToTime(r.ApproximateArrivalTimestamp),
			}
		}
		if len(recs) > 0 {
			last = recs[len(recs)-1].SequenceNumber
		}
		behind := aws.ToInt64(out.MillisBehindLatest)
		if err := fn(recs, last, behind); err != nil {
			return false, err
		}
		if out.NextShardIterator == nil {
			return true, nil
		}
		iter = out.NextShardIterator
		if knownClosed || behind > 0 || len(recs) >= int(s.cfg.Limit) {
			tip = false
			continue
		}
		// At the tip. A page with records may still be followed by the
		// end of a closed shard, or by records that arrived meanwhile:
		// one more call tells.
		if len(recs) > 0 && !tip {
			tip = true
			continue
		}
		tip = false
		if !s.cfg.Follow {
			return false, nil
		}
		if err := sleep(ctx, s.cfg.PollInterval); err != nil {
			return false, err
		}
	}
}

// iterator returns a shard iterator starting just after sequence number
// after, or at the trim horizon when after is "".
func (s *Stream) iterator(ctx context.Context, shardID, after string) (*string, error) {
	in := &awskinesis.GetShardIteratorInput{ShardId: aws.String(shardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	in.StreamName, in.StreamARN = s.ids()
	if after != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(after)
	}
	backoff := s.cfg.Backoff
	for {
		out, err := s.api.GetShardIterator(ctx, in)
		if err == nil {
			return out.ShardIterator, nil
		}
		var ae smithy.APIError
		switch {
		case after != "" && errors.As(err, &ae) && (ae.ErrorCode() == "InvalidArgumentException" || ae.ErrorCode() == "ValidationException"):
			return nil, keymeter.Errorf(keymeter.EINVALID, "read shard %s of stream %s: checkpoint %s is not a sequence number of this shard (%s)", shardID, s.name, after, ae.ErrorMessage())
		case !throttled(err):
			return nil, s.apiError(err, "read", shardID)
		}
		if err := sleep(ctx, backoff); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// ShardFunc receives the records of shard shardID; see ReadFunc.
type ShardFunc func(shardID string, recs []Record, lastSeq string, millisBehind int64) error

// ReadAll reads every shard of the stream, each from its checkpoint in
// checkpoints (shard ID → sequence number of the last record stored; a
// shard without one is read from the oldest record kept), calling fn for
// each page of records. Shards are read concurrently, but fn is never
// called concurrently. A shard is read only once all its parents are
// closed and read to the end (or no longer listed); when a shard ends,
// the shard list is read again to find its children.
//
// Without Config.Follow, ReadAll returns nil once every shard it can read
// is caught up or, for shards listed as closed, read to its end. With it, it keeps reading until ctx is
// done and returns ctx's error. It returns the first error of fn or of
// Kinesis, after stopping the other shards. checkpoints is only read,
// before each shard starts; fn may update the caller's own copy.
func (s *Stream) ReadAll(ctx context.Context, checkpoints map[string]string, fn ShardFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shards, err := s.Shards(ctx)
	if err != nil {
		return err
	}
	type result struct {
		id     string
		closed bool
		err    error
	}
	var (
		mu      sync.Mutex // serialises fn
		failed  error      // fn's error, under mu
		results = make(chan result)
		started = make(map[string]bool)
		ended   = make(map[string]bool) // closed and read to the end
		running = 0
	)
	// stop stops the shards still running and returns fn's error if it
	// failed (the others then stop with context errors), err otherwise.
	stop := func(err error) error {
		cancel()
		for ; running > 0; running-- {
			<-results
		}
		mu.Lock()
		defer mu.Unlock()
		if failed != nil {
			return failed
		}
		return err
	}
	for {
		listed := make(map[string]bool, len(shards))
		for _, sh := range shards {
			listed[sh.ID] = true
		}
		for _, sh := range shards {
			if started[sh.ID] || !parentsEnded(sh, listed, ended) {
				continue
			}
			started[sh.ID] = true
			running++
			id, after, knownClosed := sh.ID, checkpoints[sh.ID], sh.Closed()
			go func() {
				closed, err := s.read(ctx, id, after, knownClosed, func(recs []Record, lastSeq string, millisBehind int64) error {
					mu.Lock()
					defer mu.Unlock()
					if failed != nil { // fn is not called again once it failed
						return failed
					}
					if err := fn(id, recs, lastSeq, millisBehind); err != nil {
						failed = err
						cancel()
						return err
					}
					return nil
				})
				results <- result{id, closed, err}
			}()
		}
		if running == 0 {
			return nil
		}
		r := <-results
		running--
		if r.err != nil {
			return stop(r.err)
		}
		if r.closed {
			ended[r.id] = true
			if shards, err = s.Shards(ctx); err != nil {
				return stop(err)
			}
		}
	}
}

// parentsEnded reports whether every parent of sh that is still listed
// has been read to its end.
func parentsEnded(sh Shard, listed, ended map[string]bool) bool {
	for _, p := range sh.Parents {
		if listed[p] && !ended[p] {
			return false
		}
	}
	return true
}

func throttled(err error) bool {
	var pt *types.ProvisionedThroughputExceededException
	var le *types.LimitExceededException
	var kt *types.KMSThrottlingException
	return errors.As(err, &pt) || errors.As(err, &le) || errors.As(err, &kt)
}

func isExpired(err error) bool {
	var e *types.ExpiredIteratorException
	return errors.As(err, &e)
}

// apiError turns a Kinesis failure into an error a user can act on.
func (s *Stream) apiError(err error, op, shardID string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	what := "stream " + s.name
	if shardID != "" {
		what = "shard " + shardID + " of stream " + s.name
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if msg != "" {
			msg = " (" + msg + ")"
		}
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			if shardID == "" {
				return keymeter.Errorf(keymeter.ENOTFOUND, "kinesis stream %q does not exist%s; check the name and --region", s.name, msg)
			}
			return keymeter.Errorf(keymeter.ENOTFOUND, "%s %s: it does not exist%s", op, what, msg)
		case "AccessDeniedException":
			return keymeter.Errorf(keymeter.EINVALID, "%s %s: access denied%s; check the credentials and their IAM policy", op, what, msg)
		case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "IncompleteSignature", "MissingAuthenticationToken":
			return keymeter.Errorf(keymeter.EINVALID, "%s %s: the AWS credentials were refused (%s)%s", op, what, ae.ErrorCode(), msg)
		case "InvalidArgumentException", "ValidationException":
			return keymeter.Errorf(keymeter.EINVALID, "%s %s: %s", op, what, ae.ErrorMessage())
		}
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
