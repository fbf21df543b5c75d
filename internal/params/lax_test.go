package params_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/internal/params"
)

// laxTable is what Pydantic v2 made of each input: testdata/pydantic_lax.py
// wrote it, from Pydantic itself.
type laxTable struct {
	PydanticVersion string `json:"pydantic_version"`
	Cases           []struct {
		Type         string          `json:"type"`
		Input        string          `json:"input"`
		OK           bool            `json:"ok"`
		Value        json.RawMessage `json:"value"`
		Error        string          `json:"error"`
		SpecialFloat bool            `json:"special_float"`
		BeyondInt64  bool            `json:"beyond_int64"`
	} `json:"cases"`
}

// One struct per Pydantic annotation of the table: a required field v.
type (
	strParams struct {
		V string `json:"v" jsonschema:"required"`
	}
	boolParams struct {
		V bool `json:"v" jsonschema:"required"`
	}
	intParams struct {
		V int64 `json:"v" jsonschema:"required"`
	}
	floatParams struct {
		V float64 `json:"v" jsonschema:"required"`
	}
	strListParams struct {
		V []string `json:"v" jsonschema:"required"`
	}
	intListParams struct {
		V []int64 `json:"v" jsonschema:"required"`
	}
	optionalStrParams struct {
		V *string `json:"v" jsonschema:"required"`
	}
	optionalIntParams struct {
		V *int64 `json:"v" jsonschema:"required"`
	}
)

// decoder decodes {"v": input} and returns the bound v.
type decoder func(raw []byte) (any, error)

func decoderFor[P any](t *testing.T) decoder {
	s, err := params.New(*new(P))
	if err != nil {
		t.Fatal(err)
	}
	return func(raw []byte) (any, error) {
		p, _, err := s.Decode(raw)
		return reflect.ValueOf(p).Field(0).Interface(), err
	}
}

func TestLaxConversionsArePydantics(t *testing.T) {
	raw, err := os.ReadFile("testdata/pydantic_lax.json")
	if err != nil {
		t.Fatal(err)
	}
	var table laxTable
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	decoders := map[string]decoder{
		"str": decoderFor[strParams](t), "bool": decoderFor[boolParams](t),
		"int": decoderFor[intParams](t), "float": decoderFor[floatParams](t),
		"list[str]": decoderFor[strListParams](t), "list[int]": decoderFor[intListParams](t),
		"optional[str]": decoderFor[optionalStrParams](t), "optional[int]": decoderFor[optionalIntParams](t),
	}
	if len(table.Cases) < 100 {
		t.Fatalf("the table has %d cases", len(table.Cases))
	}
	for _, tc := range table.Cases {
		decode := decoders[tc.Type]
		if decode == nil {
			t.Fatalf("no Go type for Pydantic's %s", tc.Type)
		}
		got, err := decode([]byte(`{"v": ` + tc.Input + `}`))
		want := tc.OK
		if tc.BeyondInt64 {
			want = false // Python's ints are unbounded, Go's int64 is not: refused, out of range
		}
		switch {
		case !want:
			var perr *params.Error
			if !errors.As(err, &perr) || perr.Code() != params.CodeTypeError || !strings.HasPrefix(strings.Join(perr.Fields, ","), "v") {
				t.Errorf("%s %s: got %#v, %v; Pydantic refuses it (%s)", tc.Type, tc.Input, got, err, tc.Error)
			}
		case err != nil:
			t.Errorf("%s %s: refused (%v); Pydantic accepts it as %s", tc.Type, tc.Input, err, tc.Value)
		default:
			if expected := expectedValue(t, reflect.TypeOf(got), tc.Value, tc.SpecialFloat); !sameValue(got, expected) {
				t.Errorf("%s %s = %#v, Pydantic says %s", tc.Type, tc.Input, got, tc.Value)
			}
		}
	}
}

// expectedValue decodes Pydantic's value into the Go type of the field.
func expectedValue(t *testing.T, typ reflect.Type, value json.RawMessage, special bool) any {
	if special {
		var name string
		_ = json.Unmarshal(value, &name)
		switch name {
		case "inf":
			return math.Inf(1)
		case "-inf":
			return math.Inf(-1)
		}
		return math.NaN()
	}
	out := reflect.New(typ)
	if err := json.Unmarshal(value, out.Interface()); err != nil {
		t.Fatalf("Pydantic's value %s does not fit %s: %v", value, typ, err)
	}
	return out.Elem().Interface()
}

func sameValue(got, want any) bool {
	if g, ok := got.(float64); ok {
		w := want.(float64)
		return g == w && math.Signbit(g) == math.Signbit(w) || math.IsNaN(g) && math.IsNaN(w)
	}
	return reflect.DeepEqual(got, want)
}
