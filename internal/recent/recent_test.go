package recent

import (
	"slices"
	"testing"
)

func TestRingKeepsTheLastItems(t *testing.T) {
	tests := []struct {
		limit, add int
		oldest     []int
		newestTwo  []int
	}{
		{limit: 0, add: 3, oldest: []int{}, newestTwo: []int{}},
		{limit: 3, add: 2, oldest: []int{0, 1}, newestTwo: []int{1, 0}},
		{limit: 3, add: 3, oldest: []int{0, 1, 2}, newestTwo: []int{2, 1}},
		{limit: 3, add: 7, oldest: []int{4, 5, 6}, newestTwo: []int{6, 5}},
	}
	for _, tt := range tests {
		r := New[int](tt.limit)
		for i := range tt.add {
			r.Add(i)
		}
		if got := r.Oldest(); !slices.Equal(got, tt.oldest) {
			t.Errorf("limit %d, %d added: Oldest = %v, want %v", tt.limit, tt.add, got, tt.oldest)
		}
		if got := r.Newest(2); !slices.Equal(got, tt.newestTwo) {
			t.Errorf("limit %d, %d added: Newest(2) = %v, want %v", tt.limit, tt.add, got, tt.newestTwo)
		}
		if got := r.Newest(0); len(got) != len(tt.oldest) {
			t.Errorf("limit %d, %d added: Newest(0) has %d items, want all %d", tt.limit, tt.add, len(got), len(tt.oldest))
		}
		r.Clear()
		if got := r.Oldest(); len(got) != 0 {
			t.Errorf("after Clear: %v", got)
		}
	}
}
