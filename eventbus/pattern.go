package eventbus

import (
	"fmt"
	"strings"
)

// Separator splits a topic into segments: "order:completed" has the segments
// "order" and "completed". Patterns match segment by segment.
const Separator = ':'

// Wildcard is the pattern segment that matches any segment.
const Wildcard = "*"

// IsPattern reports whether name is a pattern rather than a plain topic, that
// is, whether it contains a '*'. It does not say whether the pattern is well
// formed; [Bus.Listen] does.
func IsPattern(name string) bool {
	return strings.IndexByte(name, '*') >= 0
}

// validateTopic checks a name that Emit delivers to.
func validateTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: topic \"\" is empty", ErrInvalidTopic)
	}
	if IsPattern(topic) {
		return fmt.Errorf("%w: topic %q contains '*': patterns can be listened to, not emitted", ErrInvalidTopic, topic)
	}
	if hasEmptySegment(topic) {
		return fmt.Errorf("%w: topic %q has an empty segment", ErrInvalidTopic, topic)
	}
	return nil
}

// hasEmptySegment reports whether name starts or ends with the separator or
// holds two separators in a row.
func hasEmptySegment(name string) bool {
	sep := string(Separator)
	return strings.HasPrefix(name, sep) || strings.HasSuffix(name, sep) || strings.Contains(name, sep+sep)
}

// pattern is a compiled wildcard pattern. A '*' segment in the middle matches
// exactly one segment; a '*' in the last segment matches one or more segments.
type pattern struct {
	segs []string // literal segments; "" stands for '*'
}

// compilePattern parses name as a pattern. It fails when a '*' is not a whole
// segment ("ord*", "**") or when any segment is empty.
func compilePattern(name string) (*pattern, error) {
	parts := strings.Split(name, string(Separator))
	p := &pattern{segs: make([]string, len(parts))}
	for i, s := range parts {
		switch {
		case s == Wildcard:
			p.segs[i] = ""
		case s == "":
			return nil, fmt.Errorf("%w: pattern %q has an empty segment", ErrInvalidTopic, name)
		case IsPattern(s):
			return nil, fmt.Errorf("%w: pattern %q: '*' must be a whole segment, found %q", ErrInvalidTopic, name, s)
		default:
			p.segs[i] = s
		}
	}
	return p, nil
}

// match reports whether topic matches the pattern. It does not allocate.
func (p *pattern) match(topic string) bool {
	last := len(p.segs) - 1
	for i, seg := range p.segs {
		if topic == "" {
			return false // the topic ran out of segments
		}
		if i == last && seg == "" {
			return true // a trailing '*' takes the (non-empty) rest
		}
		var head string
		if j := strings.IndexByte(topic, Separator); j >= 0 {
			head, topic = topic[:j], topic[j+1:]
			if i == last {
				return false // the topic has more segments than the pattern
			}
			if topic == "" {
				return false // a trailing separator leaves an empty segment
			}
		} else {
			head, topic = topic, ""
			if i != last {
				return false // the pattern has more segments than the topic
			}
		}
		if head == "" || (seg != "" && seg != head) {
			return false
		}
	}
	return true
}
