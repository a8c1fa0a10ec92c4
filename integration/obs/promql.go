package obs

import (
	"regexp"
	"sort"
	"strings"
)

// varRef matches Grafana's template variable syntaxes: ${name}, ${name:fmt},
// [[name]], [[name:fmt]] and $name.
var varRef = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)

// Substitute replaces Grafana template variables in expr with vars' values
// (e.g. "instance" -> ".*", "__rate_interval" -> "1m"). Variables without a
// value are left in place and returned, sorted and deduplicated, in unknown.
func Substitute(expr string, vars map[string]string) (out string, unknown []string) {
	seen := map[string]bool{}
	out = varRef.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3] // exactly one group matched
		if v, ok := vars[name]; ok {
			return v
		}
		if !seen[name] {
			seen[name] = true
			unknown = append(unknown, name)
		}
		return m
	})
	sort.Strings(unknown)
	return out, unknown
}

// keywords are PromQL words that are not metric names when they appear
// outside label matchers. Aggregation operators are among them because they
// may be followed by "by (...)" rather than by their parenthesized argument.
var keywords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true,
}

// listKeywords take a parenthesized list of label names.
var listKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// MetricNames returns the metric names expr selects, sorted and
// deduplicated. It skips strings, label matchers ({...}), range and
// subquery brackets ([...]), function names, keywords and the label lists
// of by/without/on/ignoring/group_left/group_right. Selectors written only
// as {__name__="..."} are not reported. expr should already be
// substituted (see Substitute); a malformed expr yields a best effort.
func MetricNames(expr string) []string {
	set := map[string]bool{}
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			i = skipUntil(expr, i, '}')
		case c == '[':
			i = skipUntil(expr, i, ']')
		case c == '#': // comment to end of line
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			// Numbers and durations: 1, 0.5, 1e3, 0x1f, 5m, 1h30m.
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\t' || expr[k] == '\n' || expr[k] == '\r') {
				k++
			}
			followedByParen := k < len(expr) && expr[k] == '('
			lower := strings.ToLower(word)
			switch {
			case listKeywords[lower] && followedByParen:
				j = skipUntil(expr, k, ')')
			case keywords[lower]:
			case followedByParen:
				// A function call.
			default:
				set[word] = true
			}
			i = j
		default:
			i++
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// skipString returns the index just after the string literal at expr[i].
func skipString(expr string, i int) int {
	q := expr[i]
	i++
	for i < len(expr) {
		switch {
		case expr[i] == '\\' && q != '`':
			i += 2
		case expr[i] == q:
			return i + 1
		default:
			i++
		}
	}
	return i
}

// skipUntil returns the index just after the close that ends the bracket
// opened at expr[i], skipping string literals inside.
func skipUntil(expr string, i int, close byte) int {
	open := expr[i]
	depth := 0
	for i < len(expr) {
		switch c := expr[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || isDigit(c) }

// labelValues matches Grafana's Prometheus variable function
// label_values(selector, label) and label_values(label).
var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?(\w+)\s*\)\s*$`)

// VariableQuery turns a Grafana Prometheus template variable query into a
// PromQL expression that returns data exactly when the variable has values:
// label_values(m{...}, l) becomes count by (l) (m{...}), label_values(l)
// becomes count by (l) ({l!=""}), query_result(e) becomes e. ok is false for
// other Grafana functions (label_names(), metrics()).
func VariableQuery(q string) (expr string, ok bool) {
	if m := labelValues.FindStringSubmatch(q); m != nil {
		if m[1] == "" {
			return "count by (" + m[2] + ") ({" + m[2] + `!=""})`, true
		}
		return "count by (" + m[2] + ") (" + m[1] + ")", true
	}
	q = strings.TrimSpace(q)
	if strings.HasPrefix(q, "query_result(") && strings.HasSuffix(q, ")") {
		return strings.TrimSuffix(strings.TrimPrefix(q, "query_result("), ")"), true
	}
	return "", false
}
