package server

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadAllReadsWhateverTheDeclaredLength(t *testing.T) {
	body := strings.Repeat("x", 700)
	for _, tc := range []struct {
		name   string
		length int64
	}{
		{"declared", 700},
		{"unknown", -1},
		{"declared short", 10},
		{"declared long", 1000},
		{"declared zero", 0},
		{"large", 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per Read: the loop, not a lucky single read, fills the buffer.
			got, err := readAll(iotest.OneByteReader(strings.NewReader(body)), tc.length)
			if err != nil || string(got) != body {
				t.Fatalf("readAll = %d bytes, %v; want the %d bytes", len(got), err, len(body))
			}
		})
	}
	failing := io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("connection reset")))
	if _, err := readAll(failing, 10); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("readAll of a failing reader = %v, want its error", err)
	}
}
