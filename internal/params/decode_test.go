package params_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/internal/params"
)

type labelParams struct {
	Labels map[string]int `json:"labels"`
	Tags   map[string]struct {
		Note string `json:"note" jsonschema:"minLength=2"`
	} `json:"tags"`
}

// The keys of a map parameter are the caller's: messages name the map.
func TestMapKeysAreNeverNamed(t *testing.T) {
	s, err := params.New(labelParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{
		`{"labels":{"<script>secret</script>":"x"}}`,
		`{"tags":{"<script>secret</script>":{"note":"a"}}}`,
		`{"tags":{"<script>secret</script>":{"note":1}}}`,
	} {
		_, _, err := s.Decode([]byte(raw))
		var perr *params.Error
		if !errors.As(err, &perr) {
			t.Fatalf("%s: %v", raw, err)
		}
		if strings.Contains(perr.Error(), "secret") || strings.Contains(strings.Join(perr.Fields, ","), "secret") {
			t.Errorf("%s: %q %v names the caller's key", raw, perr.Error(), perr.Fields)
		}
		if !strings.HasSuffix(perr.Fields[0], ".*") && !strings.Contains(perr.Fields[0], ".*.") {
			t.Errorf("%s: field %q, want the map named with *", raw, perr.Fields[0])
		}
	}
}

type limitParams struct {
	Limit int    `json:"limit"`
	Text  string `json:"text" jsonschema:"minLength=1"`
}

// A key given twice keeps its last value, as json.loads keeps it before
// Pydantic sees the dict: only that value is converted and checked.
func TestDuplicateKeysKeepTheLast(t *testing.T) {
	s, err := params.New(limitParams{})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := s.Decode([]byte(`{"limit":"abc","limit":"7","text":"","text":"x"}`))
	if err != nil || p.Limit != 7 || p.Text != "x" {
		t.Fatalf("got %+v, %v; want the last values", p, err)
	}
	if _, _, err := s.Decode([]byte(`{"limit":7,"limit":"abc"}`)); err == nil {
		t.Fatal("a bad last value was accepted")
	}
	if _, _, err := s.Decode([]byte(`{"text":"x","text":""}`)); err == nil {
		t.Fatal("a last value breaking minLength was accepted")
	}
}

type optionalParams struct {
	Limit *int `json:"limit" jsonschema:"minimum=1"`
	Inner *struct {
		Note *string `json:"note"`
	} `json:"inner"`
}

// A pointer field takes null, as Pydantic's Optional does, and the
// published schema says so, so that models see the shape the host takes.
func TestPointerFieldsAreNullable(t *testing.T) {
	s, err := params.New(optionalParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"limit":{"minimum":1,"type":["integer","null"]}`, `"note":{"type":["string","null"]}`, `"type":["object","null"]`} {
		if !strings.Contains(string(s.JSON()), want) {
			t.Errorf("schema %s lacks %s", s.JSON(), want)
		}
	}
	p, _, err := s.Decode([]byte(`{"limit":null,"inner":{"note":null}}`))
	if err != nil || p.Limit != nil || p.Inner == nil || p.Inner.Note != nil {
		t.Fatalf("nulls: %+v, %v", p, err)
	}
	if p, _, err := s.Decode([]byte(`{"limit":"3"}`)); err != nil || *p.Limit != 3 {
		t.Fatalf("limit 3: %+v, %v", p, err)
	}
}
