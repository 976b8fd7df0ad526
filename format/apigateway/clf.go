package apigateway

import (
	"bytes"

	"github.com/keymeter/keymeter"
)

// parseCLF splits a record of AWS's CLF template:
//
//	sourceIp caller user [requestTime] "httpMethod resourcePath protocol" status responseLength requestId [extendedRequestId]
//
// The space between "]" and the opening quote is optional (the current
// documentation's example lacks it). In the quoted part the method is the
// first word and the protocol the last, so that an HTTP API's route key
// ("GET /pets", which holds a space) can stand in for the resource path.
func (p *Parser) parseCLF(rec []byte) error {
	if rec[0] == '{' {
		return &keymeter.ParseError{Err: errorf(ErrInvalidCLF, "the record is JSON (is the log format JSON?)")}
	}
	rest := rec
	var tok []byte
	for _, s := range [...]slot{sClientIP, sCaller, sUser} {
		if tok, rest = word(rest); tok == nil {
			return p.clfError(s, "the record ends early")
		}
		p.vals[s], p.score[s] = tok, 0
	}
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) == 0 || rest[0] != '[' {
		return p.clfError(sRequestTime, "expected '[' before the time")
	}
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return p.clfError(sRequestTime, "expected ']' after the time")
	}
	p.vals[sRequestTime], p.score[sRequestTime] = rest[1:end], 0
	rest = rest[end+1:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	if len(rest) == 0 || rest[0] != '"' {
		return p.clfError(sMethod, `expected '"' before the request`)
	}
	end = bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return p.clfError(sMethod, `expected '"' after the request`)
	}
	req := rest[1 : 1+end]
	rest = rest[end+2:]
	sp1, sp2 := bytes.IndexByte(req, ' '), bytes.LastIndexByte(req, ' ')
	if sp1 <= 0 || sp2 == sp1 || sp2 == len(req)-1 {
		return p.clfError(sMethod, `the request is not "METHOD PATH PROTOCOL"`)
	}
	p.vals[sMethod], p.score[sMethod] = req[:sp1], 0
	p.vals[sResourcePath], p.score[sResourcePath] = req[sp1+1:sp2], 0
	p.vals[sProtocol], p.score[sProtocol] = req[sp2+1:], 0
	if len(rest) == 0 || rest[0] != ' ' {
		return p.clfError(sStatus, "expected a space after the request")
	}
	for _, s := range [...]slot{sStatus, sResponseLength, sRequestID} {
		if tok, rest = word(rest); tok == nil {
			return p.clfError(s, "the record ends early")
		}
		p.vals[s], p.score[s] = tok, 0
	}
	if tok, rest = word(rest); tok != nil {
		p.vals[sExtendedRequestID], p.score[sExtendedRequestID] = tok, 0
	}
	if len(bytes.TrimLeft(rest, " ")) > 0 {
		return &keymeter.ParseError{Err: errorf(ErrInvalidCLF, "unexpected data after the request ID")}
	}
	return nil
}

// IsCLF reports whether line looks like a record of AWS's CLF template:
// a [requestTime] after its first fields. It recognises records; Parse
// says whether the line is one.
func IsCLF(line []byte) bool {
	open := bytes.IndexByte(line, '[')
	if open < 0 {
		return false
	}
	end := bytes.IndexByte(line[open:], ']')
	if end < 0 {
		return false
	}
	_, ok := ParseCLFTime(line[open+1 : open+end])
	return ok
}

// word returns the next space-separated word of b and what follows it;
// runs of spaces separate like one.
func word(b []byte) (w, rest []byte) {
	b = bytes.TrimLeft(b, " ")
	if len(b) == 0 {
		return nil, nil
	}
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i:]
	}
	return b, b[len(b):]
}

func (p *Parser) clfError(s slot, what string) error {
	return &keymeter.ParseError{Field: p.name(s), Err: errorf(ErrInvalidCLF, "%s", what)}
}
