package manifest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronField is one of the five fields of a cron expression.
type cronField struct {
	name   string
	lo, hi int
	names  []string // names[i] stands for lo+i (JAN = 1, SUN = 0)
}

var cronFields = []cronField{
	{name: "minute", lo: 0, hi: 59},
	{name: "hour", lo: 0, hi: 23},
	{name: "day of month", lo: 1, hi: 31},
	{name: "month", lo: 1, hi: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	// 7 is Sunday too, as in most crons.
	{name: "day of week", lo: 0, hi: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

// cronDescriptors are the @ shorthands accepted besides @every.
var cronDescriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkSchedule validates a Scheduled Job's schedule: five cron fields (each a list of *, a
// value, a range, with an optional /step; months and weekdays may be named), a descriptor
// such as @hourly, or @every <duration>. It returns what is wrong, or "".
func checkSchedule(s string) string {
	s = strings.TrimSpace(s)
	const want = `want 5 cron fields such as "0 3 * * MON-FRI", @hourly, @daily, @weekly, @monthly, or @every 30m`
	if rest, ok := strings.CutPrefix(s, "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d <= 0 {
			return fmt.Sprintf("%s has no valid duration after @every; want a positive duration such as @every 30m", quote(s))
		}
		if d < time.Second {
			return fmt.Sprintf("%s is more often than deck looks at schedules (once a second); want @every 1s or more", quote(s))
		}
		return ""
	}
	if strings.HasPrefix(s, "@") {
		for _, d := range cronDescriptors {
			if strings.EqualFold(s, d) {
				return ""
			}
		}
		return fmt.Sprintf("%s is not a schedule shorthand;%s %s", quote(s), suggest(s, cronDescriptors), want)
	}
	fields := strings.Fields(s)
	if len(fields) != len(cronFields) {
		return fmt.Sprintf("%s has %d fields; %s", quote(s), len(fields), want)
	}
	for i, f := range fields {
		if msg := cronFields[i].check(f); msg != "" {
			return fmt.Sprintf("%s: %s", quote(s), msg)
		}
	}
	return ""
}

// check validates one field: a comma list of items, each *, N or N-M, optionally /STEP.
func (c cronField) check(field string) string {
	for item := range strings.SplitSeq(field, ",") {
		span, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > c.hi {
				return fmt.Sprintf("%s step %s is not valid; want a number from 1 to %d", c.name, quote(step), c.hi)
			}
		}
		if span == "*" {
			continue
		}
		from, to, isRange := strings.Cut(span, "-")
		lo, msg := c.value(from)
		if msg != "" {
			return msg
		}
		if isRange {
			hi, msg := c.value(to)
			if msg != "" {
				return msg
			}
			if hi < lo {
				return fmt.Sprintf("%s range %s runs backwards; want the smaller value first", c.name, quote(span))
			}
		}
	}
	return ""
}

// value parses a number or a name (MON, JAN) within the field's range.
func (c cronField) value(s string) (int, string) {
	for i, n := range c.names {
		if strings.EqualFold(s, n) {
			return c.lo + i, ""
		}
	}
	want := fmt.Sprintf("want %d-%d", c.lo, c.hi)
	if len(c.names) > 0 {
		want += fmt.Sprintf(" or %s-%s", c.names[0], c.names[len(c.names)-1])
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Sprintf("%s %s is not a number; %s", c.name, quote(s), want)
	}
	if v < c.lo || v > c.hi {
		return 0, fmt.Sprintf("%s %d is out of range; %s", c.name, v, want)
	}
	return v, ""
}

// ValidateSchedule reports whether s is a valid Scheduled Job schedule.
func ValidateSchedule(s string) error {
	if msg := checkSchedule(s); msg != "" {
		return errors.New(msg)
	}
	return nil
}
