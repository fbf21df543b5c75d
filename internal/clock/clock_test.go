package clock

import (
	"math"
	"testing"
	"time"
)

func TestFixedClockMovesOnlyWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Fixed(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %s, want %s", got, start)
	}
	now, err := c.Advance(61 * time.Second)
	if err != nil || !now.Equal(start.Add(61*time.Second)) || !c.Now().Equal(now) {
		t.Fatalf("Advance(61s) = %s, %v; Now = %s", now, err, c.Now())
	}
	if _, err := c.Advance(-time.Second); err == nil {
		t.Fatal("Advance(-1s) succeeded")
	}
	if _, err := c.Advance(math.MaxInt64); err == nil {
		t.Fatal("an Advance past the end of time succeeded")
	}
	if !c.Now().Equal(now) {
		t.Fatalf("a refused Advance moved the clock to %s", c.Now())
	}
}

func TestRealClockRunsAheadByTheAdvance(t *testing.T) {
	c := Real()
	if _, err := c.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	if ahead := time.Until(c.Now()); ahead < 59*time.Minute || ahead > time.Hour {
		t.Fatalf("clock is %s ahead of the real time, want about 1h", ahead)
	}
}
