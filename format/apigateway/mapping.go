package apigateway

import (
	"errors"
	"fmt"
	"strings"
)

// Mapping says which keys of a JSON access log template carry which
// value. The template is the operator's: API Gateway substitutes $context
// variables into whatever JSON the stage's access log format spells out,
// under whatever keys the operator chose.
//
// Each member lists candidate keys, tried in order: of the candidates a
// record carries, the first with a non-empty value wins (a value is empty
// when it is "", "-" or null). A key names a member of the top-level
// object, or, with dots, a member of a nested object: "identity.sourceIp"
// matches {"identity":{"sourceIp":"..."}} as well as a top-level key
// spelled "identity.sourceIp". Keys inside arrays never match.
//
// A nil member means the template does not log that value.
type Mapping struct {
	RequestID         []string // $context.requestId (REST: client can choose it)
	ExtendedRequestID []string // $context.extendedRequestId (REST: generated, the dedupe key)
	RequestTimeEpoch  []string // $context.requestTimeEpoch (milliseconds)
	RequestTime       []string // $context.requestTime (CLF, "06/Mar/2019:16:40:21 +0000")

	Method         []string // $context.httpMethod
	Path           []string // $context.path (actual path, with the stage)
	ResourcePath   []string // $context.resourcePath (REST template, "/pets/{petId}")
	RouteKey       []string // $context.routeKey (HTTP and WebSocket APIs, "GET /pets")
	Status         []string // $context.status
	Protocol       []string // $context.protocol
	ResponseLength []string // $context.responseLength (payload bytes)
	ClientIP       []string // $context.identity.sourceIp
	UserAgent      []string // $context.identity.userAgent

	APIKeyID []string // $context.identity.apiKeyId (REST)
	APIKey   []string // $context.identity.apiKey (REST; the secret value)
	// Identity is the operator's choice of who the caller is, for APIs
	// without API keys: "authorizer.principalId", a JWT claim, ...
	Identity []string
	Caller   []string // $context.identity.caller
	User     []string // $context.identity.user

	IntegrationLatency []string // $context.integrationLatency (ms)
	ResponseLatency    []string // $context.responseLatency (ms)
	Stage              []string // $context.stage
	APIID              []string // $context.apiId
	DomainName         []string // $context.domainName
}

// DefaultMapping returns the keys of AWS's documented JSON example
// template (requestId, ip, requestTime, httpMethod, ...) and of the
// common snake_case templates (request_id, source_ip, ...). Identity is
// left unset: it is the operator's choice.
func DefaultMapping() Mapping {
	return Mapping{
		RequestID:          []string{"requestId", "request_id"},
		ExtendedRequestID:  []string{"extendedRequestId", "extended_request_id"},
		RequestTimeEpoch:   []string{"requestTimeEpoch", "request_time_epoch"},
		RequestTime:        []string{"requestTime", "request_time"},
		Method:             []string{"httpMethod", "http_method"},
		Path:               []string{"path"},
		ResourcePath:       []string{"resourcePath", "resource_path"},
		RouteKey:           []string{"routeKey", "route_key"},
		Status:             []string{"status", "status_code"},
		Protocol:           []string{"protocol"},
		ResponseLength:     []string{"responseLength", "response_length"},
		ClientIP:           []string{"ip", "sourceIp", "source_ip", "client_ip", "identity.sourceIp", "identity.source_ip"},
		UserAgent:          []string{"userAgent", "user_agent", "identity.userAgent", "identity.user_agent"},
		APIKeyID:           []string{"apiKeyId", "api_key_id", "identity.apiKeyId", "identity.api_key_id"},
		APIKey:             []string{"apiKey", "api_key", "identity.apiKey", "identity.api_key"},
		Caller:             []string{"caller", "identity.caller"},
		User:               []string{"user", "identity.user"},
		IntegrationLatency: []string{"integrationLatency", "integration_latency"},
		ResponseLatency:    []string{"responseLatency", "response_latency"},
		Stage:              []string{"stage"},
		APIID:              []string{"apiId", "api_id"},
		DomainName:         []string{"domainName", "domain_name"},
	}
}

// slot numbers the values a Mapping locates.
type slot uint8

const (
	sRequestID slot = iota
	sExtendedRequestID
	sRequestTimeEpoch
	sRequestTime
	sMethod
	sPath
	sResourcePath
	sRouteKey
	sStatus
	sProtocol
	sResponseLength
	sClientIP
	sUserAgent
	sAPIKeyID
	sAPIKey
	sIdentity
	sCaller
	sUser
	sIntegrationLatency
	sResponseLatency
	sStage
	sAPIID
	sDomainName
	numSlots
)

// maxCandidates bounds the candidate keys of one member.
const maxCandidates = 64

// lists returns m's members indexed by slot, and their Go names.
func (m *Mapping) lists() (lists [numSlots][]string, names [numSlots]string) {
	members := [numSlots]struct {
		name string
		keys []string
	}{
		sRequestID:          {"RequestID", m.RequestID},
		sExtendedRequestID:  {"ExtendedRequestID", m.ExtendedRequestID},
		sRequestTimeEpoch:   {"RequestTimeEpoch", m.RequestTimeEpoch},
		sRequestTime:        {"RequestTime", m.RequestTime},
		sMethod:             {"Method", m.Method},
		sPath:               {"Path", m.Path},
		sResourcePath:       {"ResourcePath", m.ResourcePath},
		sRouteKey:           {"RouteKey", m.RouteKey},
		sStatus:             {"Status", m.Status},
		sProtocol:           {"Protocol", m.Protocol},
		sResponseLength:     {"ResponseLength", m.ResponseLength},
		sClientIP:           {"ClientIP", m.ClientIP},
		sUserAgent:          {"UserAgent", m.UserAgent},
		sAPIKeyID:           {"APIKeyID", m.APIKeyID},
		sAPIKey:             {"APIKey", m.APIKey},
		sIdentity:           {"Identity", m.Identity},
		sCaller:             {"Caller", m.Caller},
		sUser:               {"User", m.User},
		sIntegrationLatency: {"IntegrationLatency", m.IntegrationLatency},
		sResponseLatency:    {"ResponseLatency", m.ResponseLatency},
		sStage:              {"Stage", m.Stage},
		sAPIID:              {"APIID", m.APIID},
		sDomainName:         {"DomainName", m.DomainName},
	}
	for i, mem := range members {
		lists[i], names[i] = mem.keys, mem.name
	}
	return lists, names
}

// MappingError is one problem with a Mapping.
type MappingError struct {
	// Members names the members the problem is about by their Go names
	// ("Status"); two for a value that one of them must locate.
	Members []string
	// Problem says what is wrong, following the members' names ("has an
	// empty key", "must name a key").
	Problem string
}

// Error returns "apigateway mapping: " and the members, joined by "or",
// and the problem.
func (e *MappingError) Error() string {
	return "apigateway mapping: " + strings.Join(e.Members, " or ") + " " + e.Problem
}

// Validate reports every problem with m at once, a *MappingError each
// (joined with errors.Join): a template must yield a request ID and a
// time, and keys must be usable.
func (m Mapping) Validate() error {
	lists, names := m.lists()
	var errs []error
	problem := func(p string, members ...string) {
		errs = append(errs, &MappingError{Members: members, Problem: p})
	}
	if len(m.RequestID) == 0 && len(m.ExtendedRequestID) == 0 {
		problem("must name a key", names[sRequestID], names[sExtendedRequestID])
	}
	if len(m.RequestTimeEpoch) == 0 && len(m.RequestTime) == 0 {
		problem("must name a key", names[sRequestTimeEpoch], names[sRequestTime])
	}
	for s, keys := range lists {
		if len(keys) > maxCandidates {
			problem(fmt.Sprintf("lists %d keys, at most %d allowed", len(keys), maxCandidates), names[s])
		}
		seen := make(map[string]bool, len(keys))
		for _, k := range keys {
			switch {
			case k == "":
				problem("has an empty key", names[s])
			case strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, ".."):
				problem(fmt.Sprintf("key %q has an empty path element", k), names[s])
			case seen[k]:
				problem(fmt.Sprintf("lists key %q twice", k), names[s])
			}
			seen[k] = true
		}
	}
	return errors.Join(errs...)
}
