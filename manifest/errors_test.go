package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrorText(t *testing.T) {
	assert.Equal(t, "deck/web.yaml:3:7: healthcheck.interval: bad", (&Error{File: "deck/web.yaml", Line: 3, Column: 7, Path: "healthcheck.interval", Msg: "bad"}).Error())
	assert.Equal(t, "deck.yaml: bad", (&Error{File: "deck.yaml", Msg: "bad"}).Error())
	assert.Equal(t, "deck.yaml:3: bad", (&Error{File: "deck.yaml", Line: 3, Msg: "bad"}).Error())
	assert.Equal(t, "count: bad", (&Error{Path: "count", Msg: "bad"}).Error())

	list := ErrorList{
		{File: "b.yaml", Line: 1, Column: 1, Msg: "4"},
		{File: "a.yaml", Line: 9, Column: 1, Msg: "2"},
		{File: "a.yaml", Line: 2, Column: 5, Msg: "1"},
		{File: "a.yaml", Line: 9, Column: 3, Msg: "3"},
	}
	assert.Equal(t, "a.yaml:2:5: 1\na.yaml:9:1: 2\na.yaml:9:3: 3\nb.yaml:1:1: 4", list.Error())
	assert.NoError(t, ErrorList(nil).err())
}

func TestSuggest(t *testing.T) {
	keys := []string{"count", "cpu", "memory", "healthcheck"}
	assert.Equal(t, ` did you mean "count"?`, suggest("cuont", keys))
	assert.Equal(t, ` did you mean "healthcheck"?`, suggest("health_check", keys))
	assert.Equal(t, ` did you mean "memory"?`, suggest("Memory", keys))
	assert.Equal(t, "", suggest("image_pull", keys))
}
