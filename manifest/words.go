package manifest

import (
	"errors"
	"strings"
)

// splitWords splits a command string the way a POSIX shell splits words, without expanding
// anything: blanks separate words, single quotes keep text as is, double quotes keep blanks
// and honour \" and \\, and a backslash outside quotes escapes the next character. A command
// string is never run by a shell, so this is the only place its quoting means anything.
func splitWords(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		escaped bool
		quote   rune // 0, '\'' or '"'
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	switch {
	case quote != 0:
		return nil, errors.New("a quote is not closed")
	case escaped:
		return nil, errors.New("it ends with a lone backslash")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// SplitWords splits a command given as one string the way the manifest's command key
// does (as a shell splits words, with quotes), for commands given on deck's command line.
func SplitWords(s string) ([]string, error) { return splitWords(s) }
