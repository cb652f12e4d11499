package manifest

import (
	"errors"
	"strings"
	"time"
)

// Schedule is a Scheduled Job's parsed schedule: five cron fields, read in UTC, or an
// interval (@every). The zero Schedule never fires.
type Schedule struct {
	text  string
	every time.Duration // @every; 0 for a cron schedule
	// fields holds, per cron field (minute, hour, day of month, month, day of week), a bit
	// per allowed value. Sunday is bit 0 (7 is folded into it).
	fields [5]uint64
	// domStar and dowStar record a day field written as * (or */N): as in Vixie cron, when
	// both day fields are restricted a day matching either one fires.
	domStar, dowStar bool
}

// descriptorFields are the cron fields each @ shorthand stands for.
var descriptorFields = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// searchYears bounds how far Next looks: a schedule such as "0 0 30 2 *" (30 February)
// never fires, and 29 February fires within any 5 years.
const searchYears = 5

// ParseSchedule parses a schedule as the manifest takes it (see checkSchedule). A schedule
// that can never fire (30 February) is an error too.
func ParseSchedule(s string) (Schedule, error) {
	if msg := checkSchedule(s); msg != "" {
		return Schedule{}, errors.New(msg)
	}
	s = strings.TrimSpace(s)
	sc := Schedule{text: s}
	if rest, ok := strings.CutPrefix(s, "@every"); ok {
		sc.every, _ = time.ParseDuration(strings.TrimSpace(rest))
		return sc, nil
	}
	cron := s
	if f, ok := descriptorFields[strings.ToLower(s)]; ok {
		cron = f
	}
	for i, f := range strings.Fields(cron) {
		sc.fields[i] = cronFields[i].bits(f)
	}
	sc.domStar = strings.HasPrefix(strings.Fields(cron)[2], "*")
	sc.dowStar = strings.HasPrefix(strings.Fields(cron)[4], "*")
	if sc.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, errors.New(quote(s) + " never fires: no day matches its day of month and month (such as 30 February); want a date that exists")
	}
	return sc, nil
}

// String is the schedule as written.
func (s Schedule) String() string { return s.text }

// Every is the interval of an @every schedule (0 for a cron one).
func (s Schedule) Every() time.Duration { return s.every }

// Next is the first time the schedule fires strictly after after: after + the interval for
// @every, else the next minute (in UTC) that the cron fields allow. It is the zero time
// when there is none within searchYears (and for the zero Schedule).
func (s Schedule) Next(after time.Time) time.Time {
	if s.every > 0 {
		return after.Add(s.every)
	}
	if s.fields[0] == 0 {
		return time.Time{}
	}
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(searchYears, 0, 0)
	for t.Before(limit) {
		switch {
		case !s.has(3, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case !s.has(1, t.Hour()):
			t = t.Truncate(time.Hour).Add(time.Hour)
		case !s.has(0, t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (s Schedule) has(field, v int) bool { return s.fields[field]&(1<<uint(v)) != 0 }

// dayMatches applies Vixie cron's rule: with either day field unrestricted, both must
// match (the unrestricted one always does); with both restricted, either may.
func (s Schedule) dayMatches(t time.Time) bool {
	dom, dow := s.has(2, t.Day()), s.has(4, int(t.Weekday()))
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// bits turns one valid field (checked by check) into its allowed values: a comma list of
// *, N or N-M, each with an optional /STEP; N/STEP runs from N to the field's end.
func (c cronField) bits(field string) uint64 {
	var out uint64
	for item := range strings.SplitSeq(field, ",") {
		span, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			step = atoi(stepText)
		}
		lo, hi := c.lo, c.hi
		if span != "*" {
			from, to, isRange := strings.Cut(span, "-")
			lo, _ = c.value(from)
			hi = lo
			if isRange {
				hi, _ = c.value(to)
			} else if hasStep {
				hi = c.hi
			}
		}
		for v := lo; v <= hi; v += step {
			out |= 1 << uint(v%dowWrap(c))
		}
	}
	return out
}

// dowWrap folds day of week 7 onto 0 (both are Sunday); other fields keep their values.
func dowWrap(c cronField) int {
	if c.hi == 7 {
		return 7
	}
	return 64
}
