package calltoken

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// vectorFile is testdata/vectors.json, printed by testdata/vectors.py with
// the Python SDK's algorithm.
type vectorFile struct {
	Secrets []string `json:"secrets"`
	Now     int64    `json:"now"`
	Vectors []struct {
		Name   string  `json:"name"`
		Token  string  `json:"token"`
		AppID  string  `json:"app_id"`
		UserID string  `json:"user_id"`
		Reason string  `json:"reason"`
		Claims *Claims `json:"claims"`
		Secret string  `json:"secret"`
	} `json:"vectors"`
	B64 []struct {
		In    string `json:"in"`
		Hex   string `json:"hex"`
		Error bool   `json:"error"`
	} `json:"b64"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < 6 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	return f
}

// TestPythonVectors: Mint reproduces the Python tokens byte for byte, and
// Verify gives each the SDK's outcome. The vectors run in file order on one
// verifier, as the script ran them on one replay set.
func TestPythonVectors(t *testing.T) {
	f := loadVectors(t)
	v := newTestVerifier(t, newFakeClock(f.Now), Options{Secrets: f.Secrets})
	minted := 0
	for _, vec := range f.Vectors {
		if vec.Claims != nil {
			minted++
			if got := Mint(*vec.Claims, vec.Secret); got != vec.Token {
				t.Errorf("%s: Mint =\n  %s\nwant (Python)\n  %s", vec.Name, got, vec.Token)
			}
		}
		c, err := verify(t, v, vec.Token, vec.AppID, vec.UserID)
		if got, _ := reasonOf(t, err); got != vec.Reason {
			t.Errorf("%s: Verify reason = %q (err %v), want %q", vec.Name, got, err, vec.Reason)
			continue
		}
		if err == nil && vec.Claims != nil && c != *vec.Claims {
			t.Errorf("%s: claims = %+v, want %+v", vec.Name, c, *vec.Claims)
		}
	}
	if minted < 6 {
		t.Fatalf("only %d minted vectors", minted)
	}
}

// TestPythonBase64: the decoding of a token's parts matches Python's
// urlsafe_b64decode(s + padding), leniency included.
func TestPythonBase64(t *testing.T) {
	for _, c := range loadVectors(t).B64 {
		got, err := pyB64Decode(c.In)
		switch {
		case c.Error && err == nil:
			t.Errorf("%q: decoded to %x, Python refuses it", c.In, got)
		case !c.Error && err != nil:
			t.Errorf("%q: %v, Python decodes %s", c.In, err, c.Hex)
		case !c.Error && hex.EncodeToString(got) != c.Hex:
			t.Errorf("%q: %x, Python decodes %s", c.In, got, c.Hex)
		}
	}
}
