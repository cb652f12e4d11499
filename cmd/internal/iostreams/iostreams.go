// Package iostreams is the one place deck's commands read input and write output: data to
// Out, status and progress to ErrOut, colour only on a terminal and never with NO_COLOR.
package iostreams

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// IOStreams holds the streams and what is known about the terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	outTTY, errTTY, inTTY bool
	colorDisabled         bool
	reader                *bufio.Reader
	readerOf              io.Reader
}

// System returns streams on the process's stdin, stdout and stderr.
func System() *IOStreams {
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		inTTY: isTerminal(os.Stdin), outTTY: isTerminal(os.Stdout), errTTY: isTerminal(os.Stderr),
		colorDisabled: noColor || os.Getenv("TERM") == "dumb"}
}

// Test returns streams on buffers (never a terminal) and the buffers.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// SetTTY marks every stream as a terminal or not (for tests of terminal behaviour).
func (s *IOStreams) SetTTY(tty bool) { s.inTTY, s.outTTY, s.errTTY = tty, tty, tty }

// SetStreamTTY marks each stream as a terminal or not, as when stdout is piped while
// stderr stays on the terminal.
func (s *IOStreams) SetStreamTTY(in, out, errOut bool) { s.inTTY, s.outTTY, s.errTTY = in, out, errOut }

// DisableColor turns colour off (--no-color).
func (s *IOStreams) DisableColor() { s.colorDisabled = true }

// IsStdoutTTY reports whether Out is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether ErrOut is a terminal (live progress is drawn there).
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// CanPrompt reports whether the user can be asked a question.
func (s *IOStreams) CanPrompt() bool { return s.inTTY && s.errTTY }

// ColorEnabled reports whether Out may carry colour.
func (s *IOStreams) ColorEnabled() bool { return s.outTTY && !s.colorDisabled }

// ErrColorEnabled reports whether ErrOut may carry colour.
func (s *IOStreams) ErrColorEnabled() bool { return s.errTTY && !s.colorDisabled }

// lineReader reads answers from In through one buffer for the whole run: a reader made
// per question would swallow the answers typed (or piped) ahead of the next question.
func (s *IOStreams) lineReader() *bufio.Reader {
	if s.reader == nil || s.readerOf != s.In {
		s.reader, s.readerOf = bufio.NewReader(s.In), s.In
	}
	return s.reader
}

// Confirm asks a yes/no question on ErrOut and reads the answer from In.
func (s *IOStreams) Confirm(question string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s [y/N] ", question)
	line, err := s.lineReader().ReadString('\n')
	if err != nil && line == "" {
		return false, err
	}
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes", nil
}

// Prompt asks for a value, offering def when the answer is empty.
func (s *IOStreams) Prompt(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(s.ErrOut, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(s.ErrOut, "%s: ", question)
	}
	line, err := s.lineReader().ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	if v := strings.TrimSpace(line); v != "" {
		return v, nil
	}
	return def, nil
}

// Colors paints text when enabled.
type Colors struct{ Enabled bool }

func (c Colors) paint(code, s string) string {
	if !c.Enabled {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c Colors) Green(s string) string  { return c.paint("32", s) }
func (c Colors) Yellow(s string) string { return c.paint("33", s) }
func (c Colors) Red(s string) string    { return c.paint("31", s) }
func (c Colors) Bold(s string) string   { return c.paint("1", s) }
func (c Colors) Gray(s string) string   { return c.paint("90", s) }
