package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"etl2elt/internal/dialect"
	"etl2elt/internal/ident"
	"etl2elt/internal/ingest"
	"etl2elt/internal/metrics"
	"etl2elt/internal/objectstore"
	"etl2elt/internal/plan"
	"etl2elt/internal/window"
)

// LoadSourceInput lands a source's objects for a window.
type LoadSourceInput struct {
	Source              plan.Source   `json:"source"`
	Landing             plan.Landing  `json:"landing"`
	WarehouseConnection string        `json:"warehouse_connection"`
	RawSchema           string        `json:"raw_schema"`
	Window              window.Window `json:"window"`
	LoadID              string        `json:"load_id"`
	// Reload loads objects the ledger already holds with the same ETag again.
	Reload bool `json:"reload,omitempty"`
	// Dialect is the plan's warehouse.dialect: postgres ("" too) streams objects
	// through the worker; redshift has Redshift COPY them from S3.
	Dialect string `json:"dialect,omitempty"`
	// OnBadObject, set by runs from the per-object-outcomes version on, lands every
	// object it can: an object that cannot be landed (bad input: corrupt, empty, a
	// missing column, too many bad rows) is recorded in the ledger and in Failed, and
	// the others are landed. "" (older runs): the first such object fails the load.
	OnBadObject string `json:"on_bad_object,omitempty"`
}

// FailedObject is an object a load could not land.
type FailedObject struct {
	Key   string `json:"key"`
	Error string `json:"error"`
}

// LoadSourceResult sums up a source's load.
type LoadSourceResult struct {
	Source      string          `json:"source"`
	Table       string          `json:"table"`
	LoadID      string          `json:"load_id"`
	Objects     []ingest.Result `json:"objects"`
	EmptyDays   []string        `json:"empty_days,omitempty"`
	Rows        int64           `json:"rows"`
	Quarantined int64           `json:"quarantined"`
	Bytes       int64           `json:"bytes"`
	Skipped     int             `json:"skipped"`
	// DuplicateKeys and DuplicateRows sum the objects' duplicate primary keys and
	// their surplus rows (ingest.Result; a key held by several objects is counted by
	// each object that holds it when loaded).
	DuplicateKeys int64 `json:"duplicate_keys,omitempty"`
	DuplicateRows int64 `json:"duplicate_rows,omitempty"`
	// RowsRemoved counts rows of objects a re-delivered day no longer has.
	RowsRemoved int64 `json:"rows_removed,omitempty"`
	// Verified is set by the pipeline run once every object landed was found in the
	// load ledger; Lost counts objects reported landed that were not (landed again).
	Verified bool `json:"verified,omitempty"`
	Lost     int  `json:"lost,omitempty"`
	// Failed lists the objects that could not be landed (OnBadObject set): each is a
	// failed row of etl2elt.loads with its reason.
	Failed []FailedObject `json:"failed,omitempty"`
}

// LoadProgress is the heartbeat detail of LoadSource: a retried attempt resumes
// after the objects already done.
type LoadProgress struct {
	Done          []ingest.Result `json:"done"`
	Failed        []FailedObject  `json:"failed,omitempty"`
	CurrentObject string          `json:"current_object,omitempty"`
	CurrentRows   int64           `json:"current_rows,omitempty"`
}

// LoadSource lists the source's objects day by day over the window and lands each one
// (skipping objects already loaded with the same ETag). It heartbeats throughout with
// its progress (objects done, current object and rows); a retried attempt resumes
// after the objects done.
func (a *Activities) LoadSource(ctx context.Context, in LoadSourceInput) (*LoadSourceResult, error) {
	logger := activity.GetLogger(ctx)
	table := ident.Relation{Schema: in.RawSchema, Name: in.Source.Name}
	if err := ident.Validate(table.Schema); err != nil {
		return nil, classify(err)
	}
	if err := ident.Validate(table.Name); err != nil {
		return nil, classify(err)
	}
	loader, err := a.loaderFor(ctx, in, table)
	if err != nil {
		return nil, classify(err)
	}
	defer loader.close()
	if err := loader.ensureTable(ctx); err != nil {
		return nil, classify(err)
	}

	var progress LoadProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &progress); err != nil {
			logger.Warn("ignoring unreadable heartbeat details", "error", err)
			progress = LoadProgress{}
		}
	}
	res := &LoadSourceResult{Source: in.Source.Name, Table: table.String(), LoadID: in.LoadID}
	done := map[string]bool{}
	for _, d := range progress.Done {
		done[d.ObjectKey] = true
		res.add(d)
	}
	for _, f := range progress.Failed {
		done[f.Key] = true
		res.Failed = append(res.Failed, f)
	}

	hb := startHeartbeat(ctx, progress)
	defer hb.stop()
	mh := activity.GetMetricsHandler(ctx).WithTags(map[string]string{"source": in.Source.Name})
	for _, day := range in.Window.Days() {
		prefix := ingest.DayPrefix(in.Landing.Prefix, in.Source, day)
		objects, err := a.Store.List(ctx, in.Landing.Bucket, prefix)
		if err != nil {
			return nil, classify(err)
		}
		if len(objects) == 0 {
			res.EmptyDays = append(res.EmptyDays, day.Format(window.DateLayout))
			continue
		}
		keys := make([]string, len(objects))
		for i, o := range objects {
			keys[i] = o.Key
		}
		removed, err := loader.removeVanished(ctx, prefix, keys)
		if err != nil {
			return nil, classify(err)
		}
		if removed > 0 {
			res.RowsRemoved += removed
			logger.Info("rows of objects no longer in S3 removed", "prefix", prefix, "rows", removed)
		}
		for _, obj := range objects {
			if done[obj.Key] {
				continue
			}
			r, err := a.loadObject(ctx, loader, in, table, obj, &progress, hb)
			if err != nil && in.OnBadObject != "" && isBadInput(err) {
				// Recorded, and the others are landed: the run decides what it means.
				req := ingest.Request{Source: in.Source, Table: table, Object: obj, LoadID: in.LoadID, WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID}
				// The reason as people read it: an application error's message, without
				// its "(type: BadInput, retryable: false)", which the run's own error adds.
				reason := err
				var appErr *temporal.ApplicationError
				if errors.As(err, &appErr) {
					reason = errors.New(appErr.Message())
				}
				if rerr := loader.recordFailure(ctx, req, reason); rerr != nil {
					return nil, classify(rerr)
				}
				f := FailedObject{Key: obj.Key, Error: truncateText(reason.Error(), 500)}
				res.Failed = append(res.Failed, f)
				progress.Failed = append(progress.Failed, f)
				progress.CurrentObject, progress.CurrentRows = "", 0
				hb.set(progress.snapshot())
				mh.Counter(metrics.ObjectsFailed).Inc(1)
				logger.Warn("object not landed", "object", obj.Key, "error", f.Error)
				continue
			}
			if err != nil {
				return nil, classify(err)
			}
			res.add(r)
			progress.Done = append(progress.Done, r)
			progress.CurrentObject, progress.CurrentRows = "", 0
			hb.set(progress.snapshot())
			if !r.Skipped {
				mh.Counter(metrics.ObjectsLoaded).Inc(1)
				mh.Counter(metrics.RowsLoaded).Inc(r.Rows)
				mh.Counter(metrics.RowsQuarantined).Inc(r.Quarantined)
			}
			if len(r.ExtraColumns) > 0 {
				logger.Warn("schema drift: undeclared columns not loaded", "object", r.ObjectKey, "extra_columns", r.ExtraColumns, "policy", plan.ExtraColumnsIgnore)
			}
			if r.DuplicateKeys > 0 {
				logger.Warn("duplicate primary keys", "object", r.ObjectKey, "policy", duplicatesPolicy(in.Source), "duplicate_keys", r.DuplicateKeys, "duplicate_rows", r.DuplicateRows,
					"keys_in_other_objects", r.KeysInOtherObjects, "superseded", r.Superseded, "replaced", r.Replaced)
			}
			logger.Info("object landed", "object", r.ObjectKey, "rows", r.Rows, "quarantined", r.Quarantined, "skipped", r.Skipped,
				"duplicate_keys", r.DuplicateKeys, "duplicate_rows", r.DuplicateRows)
		}
	}
	slices.SortFunc(res.Objects, func(a, b ingest.Result) int {
		switch {
		case a.ObjectKey < b.ObjectKey:
			return -1
		case a.ObjectKey > b.ObjectKey:
			return 1
		}
		return 0
	})
	return res, nil
}

func (a *Activities) loadObject(ctx context.Context, loader sourceLoader, in LoadSourceInput, table ident.Relation, obj objectstore.Object, progress *LoadProgress, hb *heartbeater) (ingest.Result, error) {
	if !in.Reload {
		loaded, err := loader.alreadyLoaded(ctx, obj)
		if err != nil {
			return ingest.Result{}, err
		}
		if loaded {
			return ingest.Result{ObjectKey: obj.Key, Skipped: true}, nil
		}
	}
	progress.CurrentObject = obj.Key
	hb.set(progress.snapshot())
	r, err := loader.load(ctx, ingest.Request{
		PIIKey:     a.PIIKey,
		Source:     in.Source,
		Table:      table,
		Object:     obj,
		LoadID:     in.LoadID,
		WorkflowID: activity.GetInfo(ctx).WorkflowExecution.ID,
	}, func(rows int64) {
		progress.CurrentRows = rows
		hb.set(progress.snapshot())
	})
	if err != nil {
		var bad *ingest.BadDataError
		if errors.As(err, &bad) {
			return r, badInputError(err, r)
		}
		if strings.Contains(err.Error(), obj.Key) {
			return r, err // it names the object already
		}
		return r, fmt.Errorf("land %s: %w", obj.Key, err)
	}
	return r, nil
}

func (r *LoadSourceResult) add(o ingest.Result) {
	r.Objects = append(r.Objects, o)
	if o.Skipped {
		r.Skipped++
		return
	}
	r.Rows += o.Rows
	r.Quarantined += o.Quarantined
	r.Bytes += o.Bytes
	r.DuplicateKeys += o.DuplicateKeys
	r.DuplicateRows += o.DuplicateRows
}

// duplicatesPolicy is the source's duplicates policy as the loader applies it.
func duplicatesPolicy(src plan.Source) string {
	if src.Duplicates == "" {
		return plan.DuplicatesReport
	}
	return src.Duplicates
}

// snapshot copies the progress for a heartbeat (the loop goes on changing it).
func (p *LoadProgress) snapshot() LoadProgress {
	c := *p
	c.Done = append([]ingest.Result(nil), p.Done...)
	c.Failed = append([]FailedObject(nil), p.Failed...)
	return c
}

// VerifyLoadsInput lists the objects a pipeline run's LoadSource reported as landed.
type VerifyLoadsInput struct {
	WarehouseConnection string `json:"warehouse_connection"`
	Dialect             string `json:"dialect,omitempty"`
	Source              string `json:"source"`
	LoadID              string `json:"load_id"`
	// Objects are the object keys with the rows each was reported to have landed.
	Objects map[string]int64 `json:"objects"`
}

// VerifyLoadsResult lists the reported objects the load ledger does not hold as
// landed by this load with those rows (a commit lost after it was reported).
type VerifyLoadsResult struct {
	Missing []string `json:"missing,omitempty"`
}

// VerifyLoads checks a load's report against the load ledger (etl2elt.loads).
func (a *Activities) VerifyLoads(ctx context.Context, in VerifyLoadsInput) (*VerifyLoadsResult, error) {
	conn := in.WarehouseConnection
	if in.Dialect == dialect.Redshift {
		conn = a.ControlConnection // the ledger of Redshift loads is in the control database
	}
	pool, err := a.Conns.Get(ctx, conn)
	if err != nil {
		return nil, classify(err)
	}
	keys := make([]string, 0, len(in.Objects))
	rows := make([]int64, 0, len(in.Objects))
	for k, n := range in.Objects {
		keys = append(keys, k)
		rows = append(rows, n)
	}
	r, err := pool.Query(ctx, `SELECT k.object_key FROM unnest($2::text[], $3::bigint[]) AS k(object_key, rows)
WHERE NOT EXISTS (SELECT 1 FROM etl2elt.loads l WHERE l.source = $1 AND l.object_key = k.object_key
    AND l.status = 'loaded' AND l.load_id = $4 AND l.rows_loaded = k.rows)
ORDER BY 1`, in.Source, keys, rows, in.LoadID)
	if err != nil {
		return nil, classify(fmt.Errorf("verify the loads of %s: %w", in.Source, err))
	}
	missing, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		return nil, classify(fmt.Errorf("verify the loads of %s: %w", in.Source, err))
	}
	return &VerifyLoadsResult{Missing: missing}, nil
}

// isBadInput tells whether err is one retrying cannot fix (classify makes it
// non-retryable).
func isBadInput(err error) bool {
	var b badInput
	if errors.As(err, &b) && b.BadInput() {
		return true
	}
	var app *temporal.ApplicationError
	return errors.As(classify(err), &app) && app.NonRetryable()
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
