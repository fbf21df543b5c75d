// Package testpg gives tests a PostgreSQL of their own: a fresh schema in
// the database at POSTGRES_URL (default postgres://127.0.0.1:5432/test),
// dropped when the test ends. Without a database the test skips, saying
// why, except under CI=true, where it fails.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imperalcloud/exthost/internal/testkit"
)

// DefaultURL is the database tests use when POSTGRES_URL is unset.
const DefaultURL = "postgres://127.0.0.1:5432/test"

// URL returns the database of the tests: POSTGRES_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Unavailable skips the test (or fails it under CI=true) for lack of a
// database.
func Unavailable(t testkit.TB, format string, args ...any) {
	t.Helper()
	testkit.Missing(t, "PostgreSQL", "start PostgreSQL or set POSTGRES_URL", format, args...)
}

// Schema creates a schema of its own in the test database and returns a
// URL whose connections use it (search_path), so that the tables a test
// creates are its alone. The schema is dropped when the test ends.
func Schema(t testkit.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, URL())
	if err != nil {
		Unavailable(t, "no PostgreSQL at %s: %v", URL(), err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, URL())
		if err != nil {
			t.Fatalf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Fatalf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatalf("POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
