package cluster

import (
	"fmt"
	"strings"

	"github.com/sprag-go/sprag/eventbus"
)

// The mapping between event topics and NATS subjects. A topic's segments
// become the subject's tokens, so that NATS matches patterns exactly as
// the local bus does:
//
//	topic or pattern      subject tokens
//	order:completed       order.completed
//	order:*:failed        order.*.failed    ('*' in the middle: one token)
//	order:*               order.>           (trailing '*': one or more tokens)
//	*                     >
//	v1.0:état             v1%2E0.%C3%A9tat  (other characters escaped)
//
// Letters, digits, '-' and '_' are kept; every other byte is written %XX
// with two upper-case hex digits, '%' itself included, so the mapping is
// reversible and no escaped token contains '.', '*', '>' or white space.

// SubjectOf returns the NATS subject tokens of a topic or pattern of the
// event bus, without the node's prefix; see the package documentation for
// the rule. A name that the bus would refuse (empty, an empty segment, a
// '*' that shares its segment) or whose subject would be longer than
// 3,072 bytes is refused with an error wrapping eventbus.ErrInvalidTopic.
func SubjectOf(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	segs := strings.Split(name, string(eventbus.Separator))
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i, seg := range segs {
		if i > 0 {
			b.WriteByte('.')
		}
		switch {
		case seg == eventbus.Wildcard && i == len(segs)-1:
			b.WriteByte('>')
		case seg == eventbus.Wildcard:
			b.WriteByte('*')
		default:
			escapeToken(&b, seg)
		}
	}
	if b.Len() > maxSubject {
		return "", fmt.Errorf("%w: topic %.40q…: its subject is %d bytes long, more than %d", eventbus.ErrInvalidTopic, name, b.Len(), maxSubject)
	}
	return b.String(), nil
}

// maxSubject is the longest subject that SubjectOf gives: with the
// prefix and the stream's tokens around it, a subject must fit in the
// server's control line (4 KiB by default), or the server closes the
// connection for good.
const maxSubject = 3072

// TopicOf is the inverse of [SubjectOf]: it returns the topic or pattern
// whose subject tokens are subject. It fails, wrapping
// eventbus.ErrInvalidTopic, for a subject that SubjectOf cannot produce.
func TopicOf(subject string) (string, error) {
	if subject == "" {
		return "", fmt.Errorf("%w: empty subject", eventbus.ErrInvalidTopic)
	}
	toks := strings.Split(subject, ".")
	var b strings.Builder
	b.Grow(len(subject))
	for i, tok := range toks {
		if i > 0 {
			b.WriteByte(eventbus.Separator)
		}
		switch tok {
		case ">":
			if i != len(toks)-1 {
				return "", fmt.Errorf("%w: subject %q: '>' must be the last token", eventbus.ErrInvalidTopic, subject)
			}
			b.WriteString(eventbus.Wildcard)
		case "*":
			if i == len(toks)-1 {
				// SubjectOf writes a trailing wildcard as '>'.
				return "", fmt.Errorf("%w: subject %q: a trailing wildcard is written '>'", eventbus.ErrInvalidTopic, subject)
			}
			b.WriteString(eventbus.Wildcard)
		default:
			if err := unescapeToken(&b, tok); err != nil {
				return "", fmt.Errorf("%w: subject %q: %w", eventbus.ErrInvalidTopic, subject, err)
			}
		}
	}
	name := b.String()
	// An escaped ':' or '*' decodes to a name whose subject is another
	// one: only the subjects SubjectOf produces are accepted.
	if again, err := SubjectOf(name); err != nil || again != subject {
		return "", fmt.Errorf("%w: subject %q is not the subject of a topic", eventbus.ErrInvalidTopic, subject)
	}
	return name, nil
}

// checkName applies the bus's rules for topics and patterns.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: topic \"\" is empty", eventbus.ErrInvalidTopic)
	}
	for _, seg := range strings.Split(name, string(eventbus.Separator)) {
		switch {
		case seg == "":
			return fmt.Errorf("%w: %q has an empty segment", eventbus.ErrInvalidTopic, name)
		case seg != eventbus.Wildcard && eventbus.IsPattern(seg):
			return fmt.Errorf("%w: %q: '*' must be a whole segment, found %q", eventbus.ErrInvalidTopic, name, seg)
		}
	}
	return nil
}

const hexDigits = "0123456789ABCDEF"

func plain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func escapeToken(b *strings.Builder, seg string) {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
}

func unescapeToken(b *strings.Builder, tok string) error {
	if tok == "" {
		return fmt.Errorf("empty token")
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		if c != '%' || i+2 >= len(tok) {
			return fmt.Errorf("character %q is neither plain nor a %%XX escape", c)
		}
		hi, okHi := unhex(tok[i+1])
		lo, okLo := unhex(tok[i+2])
		if !okHi || !okLo {
			return fmt.Errorf("bad escape %q", tok[i:i+3])
		}
		v := hi<<4 | lo
		if plain(v) {
			// SubjectOf never escapes a plain character: accepting it
			// would give two subjects for one topic.
			return fmt.Errorf("escape %q of a plain character", tok[i:i+3])
		}
		b.WriteByte(v)
		i += 2
	}
	return nil
}

// unhex returns the value of an upper-case hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
