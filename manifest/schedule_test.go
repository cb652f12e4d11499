package manifest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduleNext(t *testing.T) {
	cases := []struct {
		schedule, after, want string
	}{
		{"@every 1h30m", "2024-09-02 10:07:30", "2024-09-02 11:37:30"},
		{"*/15 * * * *", "2024-09-02 10:07:30", "2024-09-02 10:15:00"},
		{"*/15 * * * *", "2024-09-02 10:15:00", "2024-09-02 10:30:00"}, // strictly after
		{"5/20 * * * *", "2024-09-02 10:26:00", "2024-09-02 10:45:00"},
		{"0 3 * * *", "2024-03-10 03:00:00", "2024-03-11 03:00:00"},
		{"@hourly", "2024-09-02 10:00:00", "2024-09-02 11:00:00"},
		{"@daily", "2024-12-31 23:59:59", "2025-01-01 00:00:00"},
		{"@weekly", "2024-09-02 00:00:00", "2024-09-08 00:00:00"}, // Monday -> Sunday
		{"@monthly", "2024-01-31 12:00:00", "2024-02-01 00:00:00"},
		{"@yearly", "2024-06-01 00:00:00", "2025-01-01 00:00:00"},
		{"0 9 * * MON-FRI", "2024-09-06 10:00:00", "2024-09-09 09:00:00"}, // Friday -> Monday
		{"0 12 * * 7", "2024-09-02 00:00:00", "2024-09-08 12:00:00"},      // 7 is Sunday
		{"0 0 29 2 *", "2025-03-01 00:00:00", "2028-02-29 00:00:00"},
		{"30 4 1 JAN,jul *", "2024-02-01 00:00:00", "2024-07-01 04:30:00"},
		// Both day fields restricted: the 13th or a Friday, whichever comes first (Vixie cron).
		{"0 0 13 * 5", "2024-09-01 00:00:00", "2024-09-06 00:00:00"},
		{"0 0 13 * 5", "2024-09-07 00:00:00", "2024-09-13 00:00:00"},
		// One day field restricted: only it counts.
		{"0 0 */2 * *", "2024-09-01 00:00:00", "2024-09-03 00:00:00"},
		{"0 9-17/4 * * *", "2024-09-02 09:00:00", "2024-09-02 13:00:00"},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.schedule)
		require.NoError(t, err, c.schedule)
		assert.Equal(t, utc(c.want), s.Next(utc(c.after)), "%s after %s", c.schedule, c.after)
	}
}

func TestScheduleReadsCronInUTC(t *testing.T) {
	s, err := ParseSchedule("0 3 * * *")
	require.NoError(t, err)
	paris := time.FixedZone("+02", 2*3600)
	// 04:30 in +02 is 02:30 UTC: the next 03:00 UTC is half an hour later.
	got := s.Next(time.Date(2024, 9, 2, 4, 30, 0, 0, paris))
	assert.Equal(t, utc("2024-09-02 03:00:00"), got)
	assert.Equal(t, time.UTC, got.Location())
}

func TestScheduleEvery(t *testing.T) {
	s, err := ParseSchedule("@every 10s")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, s.Every())
	assert.Equal(t, "@every 10s", s.String())
	cron, err := ParseSchedule("@daily")
	require.NoError(t, err)
	assert.Zero(t, cron.Every())
	assert.True(t, Schedule{}.Next(utc("2024-09-02 00:00:00")).IsZero(), "the zero schedule never fires")
}

func TestParseScheduleRefuses(t *testing.T) {
	for s, want := range map[string]string{
		"0 0 30 2 *":   "never fires",
		"0 0 31 4,6 *": "never fires",
		"@every 100ms": "want @every 1s or more",
		"61 * * * *":   "minute 61 is out of range",
		"daily":        "has 1 fields",
	} {
		_, err := ParseSchedule(s)
		require.Error(t, err, s)
		assert.Contains(t, err.Error(), want, s)
	}
}
