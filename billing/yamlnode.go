package billing

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keymeter/keymeter"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	Line    int    // 1-based line in the file; 0 when unknown
	Path    string // where in the document: "plans.pro.prices.api_requests.tiers[1].up_to"
	Message string
}

// String returns "line 12: plans.pro.flat_fee: must not be negative".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ConfigError lists every problem found in a config file, in line order.
// It unwraps to an EINVALID *keymeter.Error with the same message, so
// keymeter.ErrorCode reports EINVALID.
type ConfigError struct {
	Problems []Problem
}

// Error lists the problems, one per line after a summary.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "billing config: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "billing config: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns the EINVALID application error.
func (e *ConfigError) Unwrap() error {
	return &keymeter.Error{Code: keymeter.EINVALID, Message: e.Error()}
}

// checker walks a yaml.v3 node tree and collects problems instead of
// stopping at the first one.
type checker struct {
	problems []Problem
}

func (c *checker) errf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	c.problems = append(c.problems, Problem{Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as a *ConfigError, or nil.
func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].Line < c.problems[j].Line })
	return &ConfigError{Problems: c.problems}
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// field is one key: value entry of a mapping.
type field struct {
	key, val *yaml.Node
}

// fields is a checked mapping: its entries by key, and in order.
type fields struct {
	node  *yaml.Node
	byKey map[string]field
	order []field
}

func (f *fields) get(key string) (field, bool) {
	if f == nil {
		return field{}, false
	}
	e, ok := f.byKey[key]
	return e, ok
}

// entries returns a mapping's entries, or none for a nil mapping.
func (f *fields) entries() []field {
	if f == nil {
		return nil
	}
	return f.order
}

// mapping checks that n is a mapping whose keys are distinct scalars and,
// when known is not nil, among known. It returns nil when n is not a
// mapping.
func (c *checker) mapping(n *yaml.Node, path string, known []string) *fields {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if !isNull(n) {
			c.errf(n, path, "want a mapping of keys to values")
		}
		return nil
	}
	f := &fields{node: n, byKey: map[string]field{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			c.errf(k, path, "keys must be plain strings")
			continue
		}
		if k.Value == "<<" {
			c.errf(k, path, "merge keys (<<) are not supported; write the fields out")
			continue
		}
		if _, dup := f.byKey[k.Value]; dup {
			c.errf(k, join(path, k.Value), "defined twice")
			continue
		}
		if known != nil && !slices.Contains(known, k.Value) {
			c.errf(k, join(path, k.Value), "unknown field (want %s)", orList(known))
			continue
		}
		e := field{key: k, val: v}
		f.byKey[k.Value] = e
		f.order = append(f.order, e)
	}
	return f
}

// scalar returns the value of a scalar node, reporting anything else.
func (c *checker) scalar(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	switch {
	case isNull(n):
		c.errf(n, path, "missing value")
		return "", false
	case n.Kind != yaml.ScalarNode:
		c.errf(n, path, "want a single value, not a list or mapping")
		return "", false
	}
	return n.Value, true
}

// list returns the items of a sequence; a single scalar is a one-item
// list, so "status: 5xx" means "status: [5xx]".
func (c *checker) list(n *yaml.Node, path string) []*yaml.Node {
	n = resolve(n)
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		return []*yaml.Node{n}
	case n.Kind != yaml.SequenceNode:
		c.errf(n, path, "want a list")
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		items[i] = resolve(it)
	}
	return items
}

// decimal parses a scalar as a Decimal from its literal text, never via a
// float: "0.0000035" stays exactly that.
func (c *checker) decimal(n *yaml.Node, path string) (Decimal, bool) {
	s, ok := c.scalar(n, path)
	if !ok {
		return Decimal{}, false
	}
	d, ok := parseDecimal(strings.TrimSpace(s))
	if !ok {
		c.errf(n, path, "%q is not a decimal number", s)
		return Decimal{}, false
	}
	return d, true
}

// nonNegative parses a decimal that must not be negative.
func (c *checker) nonNegative(n *yaml.Node, path string) (Decimal, bool) {
	d, ok := c.decimal(n, path)
	if ok && d.Sign() < 0 {
		c.errf(n, path, "must not be negative (got %s)", d)
		return Decimal{}, false
	}
	return d, ok
}

// positiveInt parses a whole number above zero that fits an int64.
func (c *checker) positiveInt(n *yaml.Node, path string) (int64, bool) {
	d, ok := c.decimal(n, path)
	if !ok {
		return 0, false
	}
	v, isInt := d.Int64()
	if !isInt || v <= 0 {
		c.errf(n, path, "want a whole number above zero (got %s)", d)
		return 0, false
	}
	return v, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// orList returns "a, b or c".
func orList(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}
