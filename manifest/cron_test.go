package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckSchedule(t *testing.T) {
	valid := []string{"* * * * *", "0 3 * * *", "*/15 * * * *", "0 9-17/2 * * MON-FRI", "0 0 1,15 * *",
		"30 4 1 JAN,jul *", "0 0 * * 7", "5/10 * * * *", "@hourly", "@daily", "@weekly", "@monthly", "@yearly",
		"@annually", "@midnight", "@every 30m", "@every 1h30m"}
	for _, s := range valid {
		assert.Empty(t, checkSchedule(s), s)
	}
	invalid := map[string]string{
		"* * * *":         `"* * * *" has 4 fields; want 5 cron fields`,
		"60 * * * *":      "minute 60 is out of range; want 0-59",
		"* 24 * * *":      "hour 24 is out of range; want 0-23",
		"* * 0 * *":       "day of month 0 is out of range; want 1-31",
		"* * * 13 *":      "month 13 is out of range; want 1-12 or JAN-DEC",
		"* * * * 8":       "day of week 8 is out of range; want 0-7 or SUN-SAT",
		"* * * * FUN":     `day of week "FUN" is not a number`,
		"*/0 * * * *":     `minute step "0" is not valid`,
		"10-5 * * * *":    `minute range "10-5" runs backwards`,
		"@every":          "no valid duration after @every",
		"@every -5m":      "no valid duration after @every",
		"@daly":           `"@daly" is not a schedule shorthand; did you mean "@daily"?`,
		"1,,2 * * * *":    `minute "" is not a number`,
		"? * * * *":       `minute "?" is not a number`,
		"* * * JAN-FOO *": `month "FOO" is not a number`,
	}
	for s, want := range invalid {
		assert.Contains(t, checkSchedule(s), want, s)
	}
	assert.NoError(t, ValidateSchedule("@daily"))
	assert.Error(t, ValidateSchedule("daily"))
}
