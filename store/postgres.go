package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// PostgresOptions configures a Postgres backend.
type PostgresOptions struct {
	// URL is the database, postgres://host:port/db?… (libpq's keywords).
	URL string
	// MaxConns caps the pool. Default 10.
	MaxConns int32
}

// Postgres keeps documents in PostgreSQL, one row each, the data as jsonb.
// Writes to one collection of one user are serialised by a transaction
// advisory lock, so the document limit holds under concurrency; an
// if_match update checks the etag in the UPDATE itself.
type Postgres struct {
	pool *pgxpool.Pool
}

// migrations are the schema, in order; the applied ones are recorded in
// exthost_schema_migrations, so start-up applies only what is new.
var migrations = []string{
	`CREATE TABLE exthost_documents (
		app        text        NOT NULL,
		user_id    text        NOT NULL,
		collection text        NOT NULL,
		id         text        COLLATE "C" NOT NULL, -- byte order, as Memory sorts, so the key serves ORDER BY id
		data       jsonb       NOT NULL,
		etag       text        NOT NULL,
		created_at timestamptz NOT NULL,
		updated_at timestamptz NOT NULL,
		PRIMARY KEY (app, user_id, collection, id)
	)`,
	// Equality filters are one containment test (data @> {...}).
	`CREATE INDEX exthost_documents_data ON exthost_documents USING gin (data jsonb_path_ops)`,
}

// migrationLock is the advisory lock the hosts of one database take to
// migrate its schema one at a time.
const migrationLock = 0x65787468 // "exth"

// OpenPostgres connects to the database of opts and brings its schema up
// to date.
func OpenPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("store: postgres url: %w", err)
	}
	cfg.MaxConns = 10
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// Close closes the pool.
func (p *Postgres) Close() { p.pool.Close() }

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error { return p.pool.Ping(ctx) }

func (p *Postgres) migrate(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS exthost_schema_migrations (
			version    int         PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var applied int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM exthost_schema_migrations`).Scan(&applied); err != nil {
			return err
		}
		for v := applied + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO exthost_schema_migrations (version) VALUES ($1)`, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: postgres schema: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the schema the database holds.
func (p *Postgres) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := p.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM exthost_schema_migrations`).Scan(&v)
	return v, err
}

// inScope runs f in a transaction holding the scope's write lock.
func (p *Postgres) inScope(ctx context.Context, s Scope, f func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		key := s.App + "\x1f" + s.User + "\x1f" + s.Collection // shared keys only share a lock
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
			return err
		}
		return f(tx)
	})
}

// census returns how many documents the scope holds and whether id is one.
func census(ctx context.Context, tx pgx.Tx, s Scope, id string) (n int, exists bool, err error) {
	err = tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(id = $4), false) FROM exthost_documents
		WHERE app = $1 AND user_id = $2 AND collection = $3`, s.App, s.User, s.Collection, id).Scan(&n, &exists)
	return n, exists, err
}

func insert(ctx context.Context, tx pgx.Tx, s Scope, r Record) error {
	_, err := tx.Exec(ctx, `INSERT INTO exthost_documents (app, user_id, collection, id, data, etag, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.App, s.User, s.Collection, r.ID, string(r.Data), r.Etag, r.CreatedAt, r.UpdatedAt)
	return err
}

// Create implements Backend.
func (p *Postgres) Create(ctx context.Context, s Scope, r Record, max int) error {
	return p.inScope(ctx, s, func(tx pgx.Tx) error {
		switch n, exists, err := census(ctx, tx, s, r.ID); {
		case err != nil:
			return err
		case exists:
			return errExists
		case n >= max:
			return errFull
		}
		return insert(ctx, tx, s, r)
	})
}

// Put implements Backend.
func (p *Postgres) Put(ctx context.Context, s Scope, r Record, ifMatch string, max int) (Record, error) {
	err := p.inScope(ctx, s, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE exthost_documents SET data = $5, etag = $6, updated_at = $7
			WHERE app = $1 AND user_id = $2 AND collection = $3 AND id = $4 AND ($8 = '' OR etag = $8)
			RETURNING created_at`, s.App, s.User, s.Collection, r.ID, string(r.Data), r.Etag, r.UpdatedAt, ifMatch).Scan(&r.CreatedAt)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		switch n, exists, err := census(ctx, tx, s, r.ID); {
		case err != nil:
			return err
		case exists:
			return errStale
		case n >= max:
			return errFull
		}
		return insert(ctx, tx, s, r)
	})
	if err != nil {
		return Record{}, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// Get implements Backend.
func (p *Postgres) Get(ctx context.Context, s Scope, id string) (Record, bool, error) {
	r := Record{ID: id}
	var data string
	err := p.pool.QueryRow(ctx, `SELECT data::text, etag, created_at, updated_at FROM exthost_documents
		WHERE app = $1 AND user_id = $2 AND collection = $3 AND id = $4`, s.App, s.User, s.Collection, id).
		Scan(&data, &r.Etag, &r.CreatedAt, &r.UpdatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Record{}, false, nil
	case err != nil:
		return Record{}, false, err
	}
	r.Data = []byte(data)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, true, nil
}

// Delete implements Backend.
func (p *Postgres) Delete(ctx context.Context, s Scope, id string) (bool, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM exthost_documents WHERE app = $1 AND user_id = $2 AND collection = $3 AND id = $4`,
		s.App, s.User, s.Collection, id)
	return tag.RowsAffected() > 0, err
}

// where returns the WHERE clause of a selection and its arguments: the
// scope, and the filters as one containment test the GIN index serves.
func where(s Scope, fs []Filter) (string, []any, error) {
	clause := `app = $1 AND user_id = $2 AND collection = $3`
	args := []any{s.App, s.User, s.Collection}
	if len(fs) == 0 {
		return clause, args, nil
	}
	contained := make(map[string]json.RawMessage, len(fs))
	for _, f := range fs {
		contained[f.Field] = json.RawMessage(f.Value)
	}
	raw, err := jsonx.Marshal(contained)
	if err != nil {
		return "", nil, err
	}
	return clause + ` AND data @> $4::jsonb`, append(args, string(raw)), nil
}

// Query implements Backend.
func (p *Postgres) Query(ctx context.Context, s Scope, sel Selection) ([]Record, error) {
	clause, args, err := where(s, sel.Where)
	if err != nil {
		return nil, err
	}
	dir, after := " ASC", " > "
	if sel.Order.Desc {
		dir, after = " DESC", " < "
	}
	param := func(v any, cast string) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args)) + "::" + cast
	}
	// The position of a document (see Position), as Memory computes it:
	// for a data field its kind's rank, its number, its text, then its id.
	// at holds the position's value and SQL type of each key.
	type value struct {
		v    any
		cast string
	}
	var keys []string
	var at []value
	var pos Position
	if sel.After != nil {
		pos = *sel.After
	}
	switch sel.Order.Field {
	case "id":
	case "created_at", "updated_at":
		keys = append(keys, sel.Order.Field)
		at = append(at, value{pos.Time, "timestamptz"})
	default:
		f := param(sel.Order.Field, "text")
		keys = append(keys,
			`CASE jsonb_typeof(data->`+f+`) WHEN 'string' THEN 1 WHEN 'number' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END`,
			`coalesce(CASE WHEN jsonb_typeof(data->`+f+`) = 'number' THEN (data->>`+f+`)::float8 END, 0)`,
			`coalesce(CASE WHEN jsonb_typeof(data->`+f+`) <> 'number' THEN data->>`+f+` END, '') COLLATE "C"`)
		at = append(at, value{pos.Rank, "int"}, value{pos.Num, "float8"}, value{pos.Text, "text"})
	}
	keys = append(keys, "id")
	at = append(at, value{pos.ID, "text"})
	if sel.After != nil {
		placeholders := make([]string, len(at))
		for i, a := range at {
			placeholders[i] = param(a.v, a.cast)
		}
		clause += ` AND (` + strings.Join(keys, ", ") + `)` + after + `(` + strings.Join(placeholders, ", ") + `)`
	}
	order := make([]string, len(keys))
	for i, k := range keys {
		order[i] = k + dir
	}
	args = append(args, sel.Limit)
	sql := `SELECT id, data::text, etag, created_at, updated_at FROM exthost_documents WHERE ` + clause +
		` ORDER BY ` + strings.Join(order, ", ") + ` LIMIT $` + strconv.Itoa(len(args))
	rows, err := p.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		var data string
		err := row.Scan(&r.ID, &data, &r.Etag, &r.CreatedAt, &r.UpdatedAt)
		r.Data = []byte(data)
		r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
		return r, err
	})
}

// Count implements Backend.
func (p *Postgres) Count(ctx context.Context, s Scope, fs []Filter) (int, error) {
	clause, args, err := where(s, fs)
	if err != nil {
		return 0, err
	}
	var n int
	err = p.pool.QueryRow(ctx, `SELECT count(*) FROM exthost_documents WHERE `+clause, args...).Scan(&n)
	return n, err
}

// Clear implements Backend.
func (p *Postgres) Clear(ctx context.Context, app, user string) (int, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM exthost_documents WHERE app = $1 AND user_id = $2`, app, user)
	return int(tag.RowsAffected()), err
}
