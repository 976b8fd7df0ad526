// Package apitest helps test keymeter's HTTP API from outside: a client
// for a base URL (an httptest server, or the real keymeter serve) that
// checks every response against the OpenAPI document, with a validator
// for the part of JSON Schema the document uses.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Doc is an OpenAPI 3.1 document, as far as the checks read it.
type Doc struct {
	OpenAPI    string                          `json:"openapi"`
	Paths      map[string]map[string]Operation `json:"paths"`
	Components struct {
		Schemas map[string]*Schema `json:"schemas"`
	} `json:"components"`
}

// Operation is one method of a path.
type Operation struct {
	OperationID string                 `json:"operationId"`
	Responses   map[string]DocResponse `json:"responses"`
}

// DocResponse is one status of an operation.
type DocResponse struct {
	Description string               `json:"description"`
	Content     map[string]MediaType `json:"content"`
}

// MediaType is a response's body of one content type.
type MediaType struct {
	Schema *Schema `json:"schema"`
}

// Schema is the subset of JSON Schema (2020-12) the document uses: type
// (one or a list, "null" included), properties, required,
// additionalProperties, items, enum, const, minimum, $ref to
// #/components/schemas and anyOf. A keyword outside it makes ParseDoc
// fail, so that the document cannot say more than is checked.
type Schema struct {
	Ref                  string             `json:"$ref,omitempty"`
	Type                 any                `json:"type,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties *Schema            `json:"-"`
	NoAdditional         bool               `json:"-"`
	Items                *Schema            `json:"items,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Minimum              *float64           `json:"minimum,omitempty"`
	AnyOf                []*Schema          `json:"anyOf,omitempty"`
	Description          string             `json:"description,omitempty"`
	Format               string             `json:"format,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	Examples             []any              `json:"examples,omitempty"`
}

var schemaKeywords = []string{"$ref", "type", "properties", "required", "additionalProperties", "items", "enum",
	"minimum", "anyOf", "description", "format", "pattern", "examples"}

// UnmarshalJSON reads a schema, refusing keywords outside the subset.
func (s *Schema) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for k := range raw {
		if !slices.Contains(schemaKeywords, k) {
			return fmt.Errorf("schema keyword %q is not checked by apitest", k)
		}
	}
	type plain Schema
	if err := json.Unmarshal(b, (*plain)(s)); err != nil {
		return err
	}
	if ap, ok := raw["additionalProperties"]; ok {
		if string(ap) == "false" {
			s.NoAdditional = true
		} else if string(ap) != "true" {
			s.AdditionalProperties = &Schema{}
			if err := json.Unmarshal(ap, s.AdditionalProperties); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseDoc parses an OpenAPI document.
func ParseDoc(b []byte) (*Doc, error) {
	var d Doc
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("parse the OpenAPI document: %w", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.1") {
		return nil, fmt.Errorf("openapi %q: want 3.1", d.OpenAPI)
	}
	return &d, nil
}

// Match returns the document's path template that path matches
// ("/api/v1/customers/acme" matches "/api/v1/customers/{customer}"),
// preferring templates with fewer parameters; "" when none does.
func (d *Doc) Match(path string) string {
	var best string
	bestParams := -1
	keys := make([]string, 0, len(d.Paths))
	for k := range d.Paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, tmpl := range keys {
		ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
		if len(ts) != len(ps) {
			continue
		}
		params, ok := 0, true
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
				if ps[i] == "" {
					ok = false
				}
				params++
			} else if ts[i] != ps[i] {
				ok = false
			}
		}
		if ok && (bestParams < 0 || params < bestParams) {
			best, bestParams = tmpl, params
		}
	}
	return best
}

// Check checks one response: that the document has the path and method,
// the status among its responses, the content type among that status's,
// and for JSON that the body matches the schema.
func (d *Doc) Check(method, path string, status int, contentType string, body []byte) error {
	tmpl := d.Match(path)
	if tmpl == "" {
		return fmt.Errorf("%s %s: no path of the document matches", method, path)
	}
	op, ok := d.Paths[tmpl][strings.ToLower(method)]
	if !ok {
		return fmt.Errorf("%s %s: the document's %s has no %s", method, path, tmpl, method)
	}
	resp, ok := op.Responses[strconv.Itoa(status)]
	if !ok {
		return fmt.Errorf("%s %s: status %d is not among %s's responses", method, path, status, tmpl)
	}
	if len(resp.Content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("%s %s: status %d has a body, the document none", method, path, status)
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("%s %s: content type %q: %v", method, path, contentType, err)
	}
	media, ok := resp.Content[mt]
	if !ok {
		return fmt.Errorf("%s %s: status %d: content type %s is not documented", method, path, status, mt)
	}
	if mt != "application/json" || media.Schema == nil {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s %s: the body is not JSON: %v", method, path, err)
	}
	if err := d.Validate(media.Schema, v, "$"); err != nil {
		return fmt.Errorf("%s %s: status %d: %w", method, path, status, err)
	}
	return nil
}

// Validate checks a decoded JSON value (json.Number for numbers) against
// a schema.
func (d *Doc) Validate(s *Schema, v any, at string) error {
	if s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		ref := d.Components.Schemas[name]
		if !ok || ref == nil {
			return fmt.Errorf("%s: unknown $ref %s", at, s.Ref)
		}
		return d.Validate(ref, v, at)
	}
	if len(s.AnyOf) > 0 {
		var errs []string
		for _, alt := range s.AnyOf {
			err := d.Validate(alt, v, at)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: matches none of anyOf: %s", at, strings.Join(errs, "; "))
	}
	if s.Type != nil {
		if err := checkType(s.Type, v, at); err != nil {
			return err
		}
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, s.Enum)
		}
	}
	if s.Minimum != nil {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil && f < *s.Minimum {
				return fmt.Errorf("%s: %v is below the minimum %v", at, n, *s.Minimum)
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				return fmt.Errorf("%s: the required member %q is missing", at, r)
			}
		}
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			ps, ok := s.Properties[k]
			switch {
			case ok:
			case s.AdditionalProperties != nil:
				ps = s.AdditionalProperties
			case s.NoAdditional:
				return fmt.Errorf("%s: member %q is not in the schema", at, k)
			default:
				continue
			}
			if err := d.Validate(ps, x[k], at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if s.Items != nil {
			for i, e := range x {
				if err := d.Validate(s.Items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkType checks v against a type keyword: a name or a list of names.
func checkType(t any, v any, at string) error {
	var names []string
	switch x := t.(type) {
	case string:
		names = []string{x}
	case []any:
		for _, n := range x {
			names = append(names, fmt.Sprint(n))
		}
	}
	for _, n := range names {
		if isType(n, v) {
			return nil
		}
	}
	return fmt.Errorf("%s: %s is not of type %s", at, describe(v), strings.Join(names, " or "))
}

func isType(name string, v any) bool {
	switch name {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(string(n), 10, 64)
		if err == nil {
			return true
		}
		// A count beyond int64 (Int128) is still an integer.
		return strings.Trim(string(n), "-0123456789") == ""
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		b = append(b[:77], "..."...)
	}
	return string(b)
}
