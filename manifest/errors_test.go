package manifest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	build := []string{"context", "containerfile", "args"}
	assert.Equal(t, ` did you mean "containerfile"?`, suggest("dockerfile", build), "Copilot's and Compose's name")
	assert.Equal(t, ` did you mean "containerfile"?`, suggest("Dockerfile", build))
	assert.Equal(t, "", suggest("dockerfile", keys), "only where deck has a containerfile")
}

func TestLongValuesAreClipped(t *testing.T) {
	long, key := strings.Repeat("x", 10000), strings.Repeat("x", 1000) // YAML keys end at 1024
	_, dir, err := loadService1(t, "name: web\ntype: Backend Service\nimage: {location: x}\nmemory: "+long+"\n"+key+": 1\n", "test", nil)
	require.Error(t, err)
	clipped := `"` + strings.Repeat("x", 60) + `…"`
	assert.Equal(t, filepath.Join(dir, "deck/svc.yaml")+":4:9: memory: "+clipped+" is not a whole number; want 6 or more MiB\n"+
		filepath.Join(dir, "deck/svc.yaml")+":5:1: "+strings.Repeat("x", 60)+"…: unknown key "+clipped+"; valid keys: "+strings.Join(serviceKeys, ", "), err.Error())
}

func TestErrorListShowsAtMostMaxShown(t *testing.T) {
	var list ErrorList
	for i := range MaxShown + 7 {
		list = append(list, &Error{File: "a.yaml", Line: i + 1, Msg: "bad"})
	}
	lines := strings.Split(list.Error(), "\n")
	require.Len(t, lines, MaxShown+1)
	assert.Equal(t, "and 7 more errors", lines[MaxShown])
}

func TestSuggestIsBounded(t *testing.T) {
	assert.Equal(t, "", suggest(strings.Repeat("count", 1000), []string{"count"}), "a huge key is no misspelling")
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("environment-%d", i)
	}
	assert.Equal(t, ` did you mean "environment-42"?`, suggest("enviroment-42", names))
	assert.Equal(t, strings.Join(names[:20], ", ")+" and 4980 more", nameList(names))
}
