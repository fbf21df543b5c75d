package cache_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/cache"
)

func TestKeyPart(t *testing.T) {
	encoded := regexp.MustCompile(`^-[A-Za-z0-9_]{0,24}-[0-9a-f]{16}$`)
	cases := []struct {
		in   string
		want string // the part, or the slug between the dashes when encoded
		kept bool
	}{
		{"INBOX", "INBOX", true},
		{"work", "work", true},
		{"acct_2-b", "acct_2-b", true},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), strings.Repeat("a", 24), false},
		{"[Gmail]/All Mail", "_Gmail_All_Mail", false},
		{"Work Projects", "Work_Projects", false},
		{"Входящие", "_", false},
		{"-leading", "_leading", false},
		{"a:b", "a_b", false},
		{"", "", false},
		{"ann@example.com", "ann_example_com", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got := cache.KeyPart(tc.in)
			if err := cache.ValidateKey(got); err != nil {
				t.Fatalf("KeyPart(%q) = %q, refused as a key: %v", tc.in, got, err)
			}
			if tc.kept {
				if got != tc.want {
					t.Fatalf("KeyPart(%q) = %q, want it unchanged", tc.in, got)
				}
				return
			}
			if !encoded.MatchString(got) || !strings.HasPrefix(got, "-"+tc.want+"-") {
				t.Fatalf("KeyPart(%q) = %q, want -%s-<16 hex digits>", tc.in, got, tc.want)
			}
			if again := cache.KeyPart(tc.in); again != got {
				t.Fatalf("KeyPart is not deterministic: %q then %q", got, again)
			}
		})
	}
}

// Distinct inputs give distinct parts, including inputs that look like
// what another input encodes to.
func TestKeyPartDistinct(t *testing.T) {
	inputs := []string{"", "a", "A", "a b", "a_b", "a-b", "a:b", "a/b", "a.b", "[Gmail]/All Mail",
		"[Gmail]/All  Mail", "Входящие", "Исходящие", "INBOX", "inbox", "-a", "_a"}
	inputs = append(inputs, cache.KeyPart("a b"), cache.KeyPart("[Gmail]/All Mail"))
	seen := map[string]string{}
	for _, in := range inputs {
		part := cache.KeyPart(in)
		if other, dup := seen[part]; dup {
			t.Fatalf("KeyPart(%q) = KeyPart(%q) = %q", in, other, part)
		}
		seen[part] = in
	}
}

func TestKey(t *testing.T) {
	if got := cache.Key("inbox", "work", "INBOX", "0"); got != "inbox:work:INBOX:0" {
		t.Fatalf("plain parts: got %q", got)
	}
	key := cache.Key("msgs", "work", "[Gmail]/All Mail")
	if err := cache.ValidateKey(key); err != nil || strings.Count(key, ":") != 2 {
		t.Fatalf("Key = %q (%v), want a valid key of three parts", key, err)
	}
}

func ExampleKeyPart() {
	fmt.Println(cache.Key("inbox", "work", "INBOX", "0"))
	fmt.Println(cache.KeyPart("[Gmail]/All Mail"))
	// Output:
	// inbox:work:INBOX:0
	// -_Gmail_All_Mail-78708a8ddd6f3024
}
