// Package pg holds the one interface Folio's packages query Postgres
// through: a pool, a connection and a transaction all satisfy it, so a
// function that takes a DBTX runs alone or inside its caller's transaction.
package pg

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what a query needs of a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TxDB is a DBTX that can begin a transaction: what a function that owns
// its transaction takes (a lifecycle step writes the row, the event and the
// jobs together). A pool and a connection begin one; a transaction begins
// a savepoint, so such a function runs inside its caller's transaction too.
type TxDB interface {
	DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

var (
	_ TxDB = (*pgxpool.Pool)(nil)
	_ TxDB = (*pgx.Conn)(nil)
	_ TxDB = (pgx.Tx)(nil)
	_ DBTX = (*pgxpool.Pool)(nil)
	_ DBTX = (*pgx.Conn)(nil)
	_ DBTX = (pgx.Tx)(nil)
)
