package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/ingest"
)

// apigatewayConfig is the apigateway section of the config file: how the
// stage's access log template is laid out.
//
//	apigateway:
//	  template: json          # auto (default), json or clf
//	  fields:                 # JSON keys, by value; each replaces the defaults
//	    identity: [authorizer.principalId]
//	    request_id: [reqId]
type apigatewayConfig struct {
	Template string             `yaml:"template"`
	Fields   map[string]keyList `yaml:"fields"`
}

// keyList is a list of JSON keys; a single key may be written without
// brackets.
type keyList []string

// UnmarshalYAML accepts a scalar as a list of one.
func (k *keyList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*k = keyList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*k = l
	return nil
}

// apigatewayFields names the members of apigateway.Mapping in the config
// file, in documentation order.
type apigatewayField struct {
	name   string // in the config file
	goName string // in apigateway.Mapping and its errors
	member func(*apigateway.Mapping) *[]string
}

var apigatewayFields = []apigatewayField{
	{"request_id", "RequestID", func(m *apigateway.Mapping) *[]string { return &m.RequestID }},
	{"extended_request_id", "ExtendedRequestID", func(m *apigateway.Mapping) *[]string { return &m.ExtendedRequestID }},
	{"request_time_epoch", "RequestTimeEpoch", func(m *apigateway.Mapping) *[]string { return &m.RequestTimeEpoch }},
	{"request_time", "RequestTime", func(m *apigateway.Mapping) *[]string { return &m.RequestTime }},
	{"http_method", "Method", func(m *apigateway.Mapping) *[]string { return &m.Method }},
	{"path", "Path", func(m *apigateway.Mapping) *[]string { return &m.Path }},
	{"resource_path", "ResourcePath", func(m *apigateway.Mapping) *[]string { return &m.ResourcePath }},
	{"route_key", "RouteKey", func(m *apigateway.Mapping) *[]string { return &m.RouteKey }},
	{"status", "Status", func(m *apigateway.Mapping) *[]string { return &m.Status }},
	{"protocol", "Protocol", func(m *apigateway.Mapping) *[]string { return &m.Protocol }},
	{"response_length", "ResponseLength", func(m *apigateway.Mapping) *[]string { return &m.ResponseLength }},
	{"source_ip", "ClientIP", func(m *apigateway.Mapping) *[]string { return &m.ClientIP }},
	{"user_agent", "UserAgent", func(m *apigateway.Mapping) *[]string { return &m.UserAgent }},
	{"api_key_id", "APIKeyID", func(m *apigateway.Mapping) *[]string { return &m.APIKeyID }},
	{"api_key", "APIKey", func(m *apigateway.Mapping) *[]string { return &m.APIKey }},
	{"identity", "Identity", func(m *apigateway.Mapping) *[]string { return &m.Identity }},
	{"caller", "Caller", func(m *apigateway.Mapping) *[]string { return &m.Caller }},
	{"user", "User", func(m *apigateway.Mapping) *[]string { return &m.User }},
	{"integration_latency", "IntegrationLatency", func(m *apigateway.Mapping) *[]string { return &m.IntegrationLatency }},
	{"response_latency", "ResponseLatency", func(m *apigateway.Mapping) *[]string { return &m.ResponseLatency }},
	{"stage", "Stage", func(m *apigateway.Mapping) *[]string { return &m.Stage }},
	{"api_id", "APIID", func(m *apigateway.Mapping) *[]string { return &m.APIID }},
	{"domain_name", "DomainName", func(m *apigateway.Mapping) *[]string { return &m.DomainName }},
}

func apigatewayFieldNames() []string {
	names := make([]string, len(apigatewayFields))
	for i, f := range apigatewayFields {
		names[i] = f.name
	}
	return names
}

// ingestConfig returns the section as ingest takes it: the default
// mapping with each configured member replaced.
func (a *apigatewayConfig) ingestConfig() ingest.APIGateway {
	out := ingest.APIGateway{Template: a.Template}
	if len(a.Fields) == 0 {
		return out
	}
	m := apigateway.DefaultMapping()
	for _, f := range apigatewayFields {
		if keys, ok := a.Fields[f.name]; ok {
			*f.member(&m) = slices.Clone([]string(keys))
		}
	}
	out.Mapping = &m
	return out
}

// problems returns the problems of the section that only the config
// file can have: fields for the CLF template, and unknown fields. The
// template and the mapping are ingest's to check (ingest.Config.Problems).
func (a *apigatewayConfig) problems() []string {
	var out []string
	if a.Template == ingest.TemplateCLF && len(a.Fields) > 0 {
		out = append(out, "apigateway.fields: the CLF template has fixed fields; fields apply to JSON templates")
	}
	names := apigatewayFieldNames()
	var unknown []string
	for name := range a.Fields {
		if !slices.Contains(names, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		out = append(out, fmt.Sprintf("apigateway.fields.%s: unknown field (want one of %s)", name, strings.Join(names, ", ")))
	}
	return out
}

// mappingProblems says the problems of a mapping (a joined
// *apigateway.MappingError each) with the config file's names of its
// members.
func mappingProblems(err error) []string {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out []string
	for _, e := range errs {
		var me *apigateway.MappingError
		if !errors.As(e, &me) {
			out = append(out, "apigateway.fields: "+e.Error())
			continue
		}
		members := make([]string, len(me.Members))
		for i, m := range me.Members {
			members[i] = m
			for _, f := range apigatewayFields {
				if f.goName == m {
					members[i] = f.name
				}
			}
		}
		out = append(out, "apigateway.fields: "+strings.Join(members, " or ")+" "+me.Problem)
	}
	return out
}
