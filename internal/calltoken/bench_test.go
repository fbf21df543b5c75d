package calltoken

import "testing"

// BenchmarkVerifyLocal measures Verify of canonical tokens on the in-process
// replay set (no Redis).
func BenchmarkVerifyLocal(b *testing.B) {
	clk := newFakeClock(testNow)
	v, _ := NewVerifier(Options{Secrets: []string{testSecret}, Now: clk.Now})
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = Mint(clk.claims("chat_fn", "mail", "u-123", 120), testSecret)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(b.Context(), toks[i], "mail", "u-123"); err != nil {
			b.Fatal(err)
		}
	}
}
