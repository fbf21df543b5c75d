package dispatch_test

import (
	"context"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/dispatch"
	paramsengine "github.com/imperalcloud/exthost/internal/params"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/runtime"
)

// fzInner is a nested parameter struct.
type fzInner struct {
	Level int    `json:"level" jsonschema:"required"`
	Label string `json:"label"`
}

// fzParams has a field of each kind the schema and the decoder handle:
// required string and int, bool, small int, []string, a nested struct, and
// pointers to a struct, an int and a string.
type fzParams struct {
	Name  string    `json:"name" jsonschema:"required"`
	Count int       `json:"count" jsonschema:"required"`
	Small int8      `json:"small"`
	Ratio float64   `json:"ratio"`
	Loud  bool      `json:"loud"`
	Tags  []string  `json:"tags"`
	Inner fzInner   `json:"inner"`
	Ptr   *fzInner  `json:"ptr,omitempty"`
	Limit *int      `json:"limit,omitempty"`
	Note  *string   `json:"note,omitempty"`
	Pairs []fzInner `json:"pairs"`
}

var fzCodePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,63}$`)

// fzSeeds are meaningful parameters, also committed (with a few more) under
// testdata/fuzz/FuzzParams.
var fzSeeds = []string{
	`{"name":"Ann","count":2,"small":-3,"ratio":0.5,"loud":true,"tags":["a","b"],"inner":{"level":1,"label":"x"},"ptr":{"level":2},"limit":10,"note":"n","pairs":[{"level":3}]}`,
	`{"name":"Ann","count":2}`,
	`{}`,
	``,
	`null`,
	`[]`,
	`"name"`,
	`{"name":7,"count":"2","loud":"yes","tags":"a","inner":[],"ptr":null,"limit":1.5}`,
	`{"name":"a","count":1e999}`,
	`{"name":"a","count":-0,"small":128,"ratio":1e400}`,
	`{"name":"a","count":9223372036854775808}`,
	`{"name":"a","count":1,"inner":{}}`,
	`{"name":"a","count":1,"NAME":5,"Count":"x","extra":{"deep":[[[{}]]]}}`,
	`{"name":"a","count":1,"inner":{"level":1,"x":2},"pairs":[{"level":1,"y":[]}]}`,
	`{"name":"a","name":5,"count":1}`,
	`{"name":5,"name":"a","count":1}`,
	`{"name":"\ud800\u0000\"","count":1,"tags":["\udc00"]}`,
	"{\"name\":\"\xff\xfe\",\"count\":1}",
	`{"name":"a","count":1} {}`,
	`{"name":"a","count":1`,
	`{"name":"a","count":1,"ptr":{"level":1e999999}}`,
}

// FuzzParams sends arbitrary parameter bytes through Dispatcher.Call for a
// function with typed parameters. It never panics; the result is a success
// or an error with a well-formed code, its trace agrees, and it always
// encodes to valid JSON with a data object.
func FuzzParams(f *testing.F) {
	for _, s := range fzSeeds {
		f.Add([]byte(s))
	}
	ext, tool := testkit.NewApp("fuzz-app", "An extension for the parameter fuzzer.")
	runtime.AddFunction(tool, runtime.Function[fzParams, fzParams]{
		Name: "typed", Description: "Echoes its typed parameters.",
		Defaults: fzParams{Small: 1, Loud: true},
		Handler: func(c *ctx.Call, p fzParams) (runtime.Result, error) {
			if p.Name == "" && p.Count == 0 && len(p.Tags) == 0 {
				return runtime.Fail("Nothing to echo.").WithCode("FUZZ_EMPTY"), nil
			}
			// Pydantic takes 1e700 and "inf" for a float: echoed, they make
			// a result JSON cannot carry, answered INTERNAL.
			return runtime.Success(p, "echoed"), nil
		},
	})
	d, err := dispatch.New(dispatch.Options{Extensions: []*runtime.Extension{ext}, CallTimeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })

	f.Fuzz(func(t *testing.T, params []byte) {
		out, res, tr := d.Call(context.Background(), dispatch.Request{AppID: "fuzz-app", Function: "typed",
			Params: json.RawMessage(params), User: ctx.User{ImperalID: "u-1", TenantID: "default"}}, nil)
		switch res.Status {
		case runtime.StatusSuccess:
			if res.ErrorCode != "" || res.Error != "" {
				t.Fatalf("success with error %q %q", res.Error, res.ErrorCode)
			}
		case runtime.StatusError:
			if !fzCodePattern.MatchString(res.ErrorCode) || res.Error == "" {
				t.Fatalf("error result with code %q, message %q", res.ErrorCode, res.Error)
			}
		default:
			t.Fatalf("result status %q", res.Status)
		}
		if tr.Status != res.Status || tr.ErrorCode != res.ErrorCode {
			t.Fatalf("trace %q %q, result %q %q", tr.Status, tr.ErrorCode, res.Status, res.ErrorCode)
		}
		if !json.Valid(out) {
			t.Fatalf("the answer is not valid JSON: %s", out)
		}
		var shape struct {
			Status string         `json:"status"`
			Data   map[string]any `json:"data"`
		}
		if err := json.Unmarshal(out, &shape); err != nil || shape.Data == nil || shape.Status != string(res.Status) {
			t.Fatalf("result JSON %s: %v", out, err)
		}
		switch res.ErrorCode {
		case runtime.CodeValidationMissingField:
			if _, ok := shape.Data["missing_fields"]; !ok {
				t.Fatalf("missing-field error without missing_fields: %s", out)
			}
		case runtime.CodeValidationTypeError:
			if _, ok := shape.Data["fields"]; !ok {
				t.Fatalf("type error without fields: %s", out)
			}
		case runtime.CodeInternal:
			// Only a float JSON cannot carry, echoed back, may fail the answer.
			if !math.IsInf(echoedRatio(params), 0) && !math.IsNaN(echoedRatio(params)) {
				t.Fatalf("INTERNAL for params %q: %s", params, out)
			}
		case "", "FUZZ_EMPTY":
		default:
			t.Fatalf("unexpected code %s for params %q: %s", res.ErrorCode, params, out)
		}
	})
}

// echoedRatio is the ratio the fuzzed parameters bind, as the function
// declares it, or 0 when they do not bind.
func echoedRatio(params []byte) float64 {
	s, err := paramsengine.New(fzParams{})
	if err != nil {
		return 0
	}
	p, _, err := s.Decode(params)
	if err != nil {
		return 0
	}
	return p.Ratio
}

// TestHugeExponentParamsAreCheap: a number with a huge decimal exponent in an
// integer-typed parameter must be refused at the cost of reading it. A JSON
// Schema validator decides whether a JSON number is an integer by parsing
// its text into a math/big.Rat, which for 1e999999 computes 5^999999 (~35 ms
// of CPU for 9 bytes of input); an array of such numbers multiplies it, and
// the validation runs before the call's deadline applies. Parameters are
// converted before any validator sees them.
func TestHugeExponentParamsAreCheap(t *testing.T) {
	ext, tool := testkit.NewApp("exp-app", "Huge exponents.")
	runtime.AddFunction(tool, runtime.Function[fzParams, runtime.NoData]{Name: "typed", Description: "Typed parameters.",
		Handler: func(*ctx.Call, fzParams) (runtime.Result, error) { return runtime.Success(nil, ""), nil }})
	d, err := dispatch.New(dispatch.Options{Extensions: []*runtime.Extension{ext}, CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	params := `{"name":"a","count":1,"pairs":[` + strings.Repeat(`{"level":1e999999},`, 99) + `{"level":1e999999}]}`
	start := time.Now()
	_, res, _ := d.Call(context.Background(), dispatch.Request{AppID: "exp-app", Function: "typed",
		Params: json.RawMessage(params), User: ctx.User{ImperalID: "u-1"}}, nil)
	if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
		t.Errorf("%d bytes of parameters took %s to refuse (%s %s)", len(params), elapsed, res.Status, res.ErrorCode)
	}
	if res.ErrorCode != runtime.CodeValidationTypeError {
		t.Errorf("code %q, want %s", res.ErrorCode, runtime.CodeValidationTypeError)
	}
}
