package keymeter

// Batch is a set of events from one object, encoded for storage: repeated
// strings are replaced by 64-bit dictionary IDs (see Dict), per-row
// strings are packed into Rest, and the raw API key is gone, replaced by
// the ID of its fingerprint. A Batch is what Writer.Write accepts; it is
// independent of any particular store.
type Batch struct {
	Source Source
	// Object is the object the rows were read from. For a stream it only
	// names the stream (URI kinesis://STREAM) and is never recorded as
	// finished; nil means unnamed.
	Object *Object
	Rows   []Row
	// Dict holds the dictionary entries the rows reference that the
	// encoder has not handed to the store before. A store must keep an
	// entry it already has unchanged.
	Dict []DictEntry
	// Keys holds the fingerprints the rows reference, for the same reason.
	Keys []KeyFingerprint
	// Rest is the arena of per-row strings: row i's fields are
	// Rest[Rows[i-1].RestEnd:Rows[i].RestEnd] (from 0 for the first row),
	// the fields of LayoutOf(Source).Rest joined by tabs, as logged.
	Rest []byte
}

// Reset empties b for reuse, keeping its capacity.
func (b *Batch) Reset() {
	b.Object = nil
	b.Rows = b.Rows[:0]
	b.Dict = b.Dict[:0]
	b.Keys = b.Keys[:0]
	b.Rest = b.Rest[:0]
}

// RestOf returns row i's packed per-row strings.
func (b *Batch) RestOf(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = b.Rows[i-1].RestEnd
	}
	return b.Rest[start:b.Rows[i].RestEnd]
}

// Row is one stored event. Numeric members are -1 when the log did not
// carry the value; see Event.
type Row struct {
	Time int64 // Unix microseconds UTC
	// ID is a 128-bit hash of the request's unique ID (x-edge-request-id,
	// extendedRequestId, ...). Stores keep at most one row per Source and ID.
	ID          [2]uint64
	KeyID       uint64 // KeyFingerprint.ID of the API key; 0 when unattributed
	Attribution Attribution
	Dims        uint64 // DictDims entry
	Client      uint64 // DictClient entry
	Path        uint64 // DictPath entry
	Status      int32
	BytesSent   int64
	BytesRecv   int64
	TimeTaken   int32 // milliseconds
	TTFB        int32 // milliseconds
	ClientPort  int32
	FLEEncrypt  int32
	ContentLen  int64
	RangeStart  int64
	RangeEnd    int64
	RestEnd     uint32 // end offset of this row's strings in Batch.Rest
}

// DictKind says what a dictionary entry holds.
type DictKind uint8

// Dictionary kinds.
const (
	DictPath   DictKind = iota + 1 // Values: path as logged, path decoded
	DictDims                       // Values: LayoutOf(source).Dims, as logged
	DictClient                     // Values: LayoutOf(source).Client, as logged
)

// DictEntry is one dictionary value: a string, or a tuple of strings that
// tend to repeat together, stored once and referenced by ID. The ID is a
// hash of the values, so encoders in parallel agree without coordination.
type DictEntry struct {
	Kind   DictKind
	Source Source
	ID     uint64
	Values []string
}

// Layout says, for one source, which fields are stored in which part of a
// Row. Encoders and stores must agree on it; it only ever grows at the end.
type Layout struct {
	Dims   []Field // low-cardinality fields, packed into one DictDims entry
	Client []Field // user agent, referer (and header names), packed into one DictClient entry
	Path   Field   // the request path, a DictPath entry
	Rest   []Field // high-cardinality fields, stored per row
}

var layouts = map[Source]Layout{
	SourceCloudFront: {
		Dims: []Field{
			FieldEdgeLocation, FieldMethod, FieldDistributionDomain, FieldViewerHost, FieldProtocol,
			FieldProtocolVersion, FieldSSLProtocol, FieldSSLCipher, FieldEdgeResult, FieldEdgeResponseResult,
			FieldEdgeDetailedResult, FieldFLEStatus, FieldContentType,
		},
		Client: []Field{FieldUserAgent, FieldReferer},
		Path:   FieldURIStem,
		Rest:   []Field{FieldRequestID, FieldClientIP, FieldQuery, FieldCookie, FieldForwardedFor},
	},
	// API Gateway access logs: RequestID is the dedupe ID (extendedRequestId,
	// else requestId), APIRequestID the requestId as logged. Protocol is
	// $context.protocol ("HTTP/1.1") and ViewerHost $context.domainName.
	SourceAPIGateway: {
		Dims: []Field{
			FieldMethod, FieldViewerHost, FieldProtocol, FieldStage, FieldAPIID, FieldResourcePath, FieldRouteKey,
		},
		Client: []Field{FieldUserAgent, FieldReferer},
		Path:   FieldURIStem,
		Rest:   []Field{FieldRequestID, FieldClientIP, FieldAPIRequestID},
	},
	// Real-time logs: the standard layout (same positions, so that stores
	// and views treat both alike), then the fields only real-time logs
	// have. The viewer's country, IP version, Accept headers and cache
	// behavior repeat; so do the names of the headers a client sends (in
	// its own order), which go with its user agent. The headers' values,
	// ASN and origin latencies are per row. cs-uri-stem is the path
	// without the query (see format/cloudfrontrt).
	SourceCloudFrontRealtime: {
		Dims: []Field{
			FieldEdgeLocation, FieldMethod, FieldDistributionDomain, FieldViewerHost, FieldProtocol,
			FieldProtocolVersion, FieldSSLProtocol, FieldSSLCipher, FieldEdgeResult, FieldEdgeResponseResult,
			FieldEdgeDetailedResult, FieldFLEStatus, FieldContentType,
			FieldCountry, FieldClientIPVersion, FieldAcceptEncoding, FieldAccept, FieldCacheBehaviorPathPattern,
			FieldPrimaryDistributionID, FieldPrimaryDistributionDNSName,
		},
		Client: []Field{FieldUserAgent, FieldReferer, FieldHeaderNames},
		Path:   FieldURIStem,
		Rest: []Field{
			FieldRequestID, FieldClientIP, FieldQuery, FieldCookie, FieldForwardedFor,
			FieldHeaders, FieldHeadersCount, FieldServerIP, FieldASN, FieldOriginFBL, FieldOriginLBL,
		},
	},
}

// LayoutOf returns the storage layout of source s.
func LayoutOf(s Source) Layout {
	return layouts[s]
}
