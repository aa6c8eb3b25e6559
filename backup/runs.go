package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/pgbackrest"
)

// Record stores the base backups pgBackRest reports (idempotent: a backup
// already recorded is left as it is) and returns how many were new.
func Record(ctx context.Context, db pg.DBTX, backups []pgbackrest.Backup) (int, error) {
	added := 0
	for _, b := range backups {
		tag, err := db.Exec(ctx, `INSERT INTO backup_runs (label, stanza, type, started_at, finished_at, db_bytes, repo_bytes)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (label) DO NOTHING`,
			b.Label, b.Stanza, b.Type, b.Start, b.Stop, b.Size, b.RepoLen)
		if err != nil {
			return added, fmt.Errorf("error recording backup %s: %w", b.Label, err)
		}
		added += int(tag.RowsAffected())
	}
	return added, nil
}

// Freshness is what backup freshness is made of.
type Freshness struct {
	// LastBackup is when the newest recorded base backup finished (zero:
	// none recorded).
	LastBackup time.Time
	// Archiving: the server's archive_mode is on.
	Archiving bool
	// LastArchived and LastFailed are pg_stat_archiver's: the last WAL
	// segment archived, and the last attempt that failed (zero: never).
	LastArchived, LastFailed time.Time
}

// ReadFreshness reads the freshness of this database's backups.
func ReadFreshness(ctx context.Context, db pg.DBTX) (Freshness, error) {
	var f Freshness
	var last, archived, failed *time.Time
	var mode string
	err := db.QueryRow(ctx, `SELECT (SELECT max(finished_at) FROM backup_runs), current_setting('archive_mode'),
		last_archived_time, last_failed_time FROM pg_stat_archiver`).Scan(&last, &mode, &archived, &failed)
	if err != nil {
		return f, fmt.Errorf("error reading backup freshness: %w", err)
	}
	f.Archiving = mode == "on" || mode == "always"
	for _, p := range []struct {
		dst *time.Time
		src *time.Time
	}{{&f.LastBackup, last}, {&f.LastArchived, archived}, {&f.LastFailed, failed}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	return f, nil
}

// FreshnessCollector exports backup freshness, read from the database at
// every scrape. Every worker exports the same values (they describe the
// one database): the alert rules take the max.
type FreshnessCollector struct {
	DB     pg.DBTX
	Logger *slog.Logger

	last, archiving, archived, failed, up *prometheus.Desc
}

// NewFreshnessCollector returns the collector; register it.
func NewFreshnessCollector(db pg.DBTX, logger *slog.Logger) *FreshnessCollector {
	return &FreshnessCollector{DB: db, Logger: logger,
		last: prometheus.NewDesc("folio_backup_last_success_timestamp_seconds",
			"When the newest base backup recorded (folio backup record) finished, in Unix seconds; 0: none recorded.", nil, nil),
		archiving: prometheus.NewDesc("folio_wal_archiving",
			"1 when the database archives its WAL (archive_mode on): backups are expected, and their freshness alerts apply.", nil, nil),
		archived: prometheus.NewDesc("folio_wal_archive_last_success_timestamp_seconds",
			"When the database last archived a WAL segment (pg_stat_archiver), in Unix seconds; 0: never.", nil, nil),
		failed: prometheus.NewDesc("folio_wal_archive_last_failure_timestamp_seconds",
			"When archiving a WAL segment last failed (pg_stat_archiver), in Unix seconds; 0: never.", nil, nil),
		up: prometheus.NewDesc("folio_backup_freshness_up",
			"1 when the last scrape could read backup freshness from the database.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *FreshnessCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.last, c.archiving, c.archived, c.failed, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *FreshnessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	f, err := ReadFreshness(ctx, c.DB)
	if err != nil {
		if !errors.Is(err, pgx.ErrNoRows) && c.Logger != nil {
			c.Logger.Warn("backup freshness", "err", err)
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	archiving := 0.0
	if f.Archiving {
		archiving = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, unix(f.LastBackup))
	ch <- prometheus.MustNewConstMetric(c.archiving, prometheus.GaugeValue, archiving)
	ch <- prometheus.MustNewConstMetric(c.archived, prometheus.GaugeValue, unix(f.LastArchived))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, unix(f.LastFailed))
}
