package fake

import (
	"testing"

	"github.com/deckhq/deck/providers/lb"
	"github.com/deckhq/deck/providers/lb/lbtest"
)

func TestConformance(t *testing.T) {
	b := New("edge")
	lbtest.Run(t, lbtest.Harness{
		Balancer:    b,
		Writes:      b.Writes,
		SetInFlight: b.SetInFlight,
		Unreachable: func(*testing.T) lb.Balancer {
			d := New("edge-down")
			d.SetDown(true)
			return d
		},
	})
}
