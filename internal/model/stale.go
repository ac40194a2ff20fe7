package model

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"etl2elt/internal/ident"
	"etl2elt/internal/plan"
)

// Build is one recorded build of a model: a model run or a backfill chunk, over a
// window (nil bounds: the whole relation), by a definition (nil: recorded before
// definitions were).
type Build struct {
	From, To *time.Time
	At       time.Time
	Def      *Definition
	Hash     string
	What     string // "run <id>" or "backfill chunk <window>"
}

// StaleRange is a period of a model built by logic that no longer runs.
type StaleRange struct {
	// From and To bound it (nil: the whole relation: a table or view model).
	From, To *time.Time
	// Why says what changed since it was built: "SQL", "lookback 1d → 2d",
	// "upstream stg_orders: SQL", "built before definitions were recorded".
	Why []string
	// Rows counts the relation's rows in it (-1: not counted, e.g. a view).
	Rows int64
}

// Status is a model's change-tracking state.
type Status struct {
	Model, Relation, Materialized string
	// Current is the fingerprint of the plan's definition.
	Current string
	// Built is the fingerprint of the latest build ("" when never built).
	Built string
	// Changes lists what differs between the latest build's definition and the plan's.
	Changes []string
	Stale   []StaleRange
}

// Staleness reads the builds of every model of models (with their upstream models
// from the plan) from the control schema and returns, per model, the periods built by
// a definition other than the plan's, or while an upstream model's definition was
// other than the plan's (a change upstream makes its downstream periods stale too).
func Staleness(ctx context.Context, pool *pgxpool.Pool, p *plan.Plan, models []plan.Model) ([]Status, error) {
	builds := map[string][]Build{}
	load := func(name string) ([]Build, error) {
		if b, ok := builds[name]; ok {
			return b, nil
		}
		b, err := readBuilds(ctx, pool, name)
		if err != nil {
			return nil, err
		}
		builds[name] = b
		return b, nil
	}
	var out []Status
	for _, m := range models {
		mine, err := load(m.Name)
		if err != nil {
			return nil, err
		}
		cur := DefinitionOf(m)
		rel := ident.Relation{Schema: m.Schema, Name: m.Name}
		st := Status{Model: m.Name, Relation: rel.String(), Materialized: m.Materialized, Current: cur.Hash()}
		if len(mine) > 0 {
			last := mine[len(mine)-1]
			st.Built = last.Hash
			if last.Def != nil {
				st.Changes = cur.Changes(*last.Def)
			}
		}
		var upstream []plan.Model
		for _, u := range p.WithUpstream(m.Name) {
			if u.Name != m.Name {
				upstream = append(upstream, u)
			}
		}
		why := func(b Build) []string {
			var w []string
			switch {
			case b.Def == nil:
				w = append(w, "built before definitions were recorded")
			case b.Hash != cur.Hash():
				w = append(w, cur.Changes(*b.Def)...)
			}
			for _, u := range upstream {
				ub, err := load(u.Name)
				if err != nil || len(ub) == 0 {
					continue
				}
				// The definition u had when b was built: its latest build before.
				var at *Build
				for i := range ub {
					if ub[i].At.After(b.At) {
						break
					}
					at = &ub[i]
				}
				if at == nil || at.Def == nil {
					continue
				}
				if ch := DefinitionOf(u).Changes(*at.Def); len(ch) > 0 {
					w = append(w, "upstream "+u.Name+": "+strings.Join(ch, ", "))
				}
			}
			return w
		}
		for _, seg := range latestBuilds(mine) {
			w := why(seg.b)
			if len(w) == 0 {
				continue
			}
			r := StaleRange{From: seg.from, To: seg.to, Why: w, Rows: -1}
			if n := len(st.Stale); n > 0 && st.Stale[n-1].To != nil && seg.from != nil && st.Stale[n-1].To.Equal(*seg.from) && slices.Equal(st.Stale[n-1].Why, w) {
				st.Stale[n-1].To = seg.to
				continue
			}
			st.Stale = append(st.Stale, r)
		}
		for i := range st.Stale {
			if st.Stale[i].Rows, err = countRows(ctx, pool, rel, m, st.Stale[i]); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	return out, nil
}

type segment struct {
	from, to *time.Time
	b        Build
}

// latestBuilds paints builds in time order: each period ends up with the build that
// wrote it last. A whole-relation build (no window) replaces everything.
func latestBuilds(builds []Build) []segment {
	var segs []segment
	for _, b := range builds {
		if b.From == nil || b.To == nil {
			segs = []segment{{b: b}}
			continue
		}
		var next []segment
		for _, s := range segs {
			if s.from == nil { // a whole build (the model was a table before): kept as it is
				next = append(next, s)
				continue
			}
			if !s.to.After(*b.From) || !s.from.Before(*b.To) {
				next = append(next, s)
				continue
			}
			if s.from.Before(*b.From) {
				next = append(next, segment{from: s.from, to: b.From, b: s.b})
			}
			if s.to.After(*b.To) {
				next = append(next, segment{from: b.To, to: s.to, b: s.b})
			}
		}
		segs = append(next, segment{from: b.From, to: b.To, b: b})
	}
	sort.SliceStable(segs, func(i, j int) bool {
		switch {
		case segs[i].from == nil:
			return true
		case segs[j].from == nil:
			return false
		}
		return segs[i].from.Before(*segs[j].from)
	})
	return segs
}

// readBuilds reads a model's successful runs and done backfill chunks, oldest first.
func readBuilds(ctx context.Context, pool *pgxpool.Pool, model string) ([]Build, error) {
	rows, err := pool.Query(ctx, `
SELECT window_from, window_to, finished_at, definition, COALESCE(definition_hash, ''), 'run ' || run_id
FROM etl2elt.model_runs WHERE model = $1 AND status = 'succeeded'
UNION ALL
SELECT window_start, window_end, finished_at, definition, COALESCE(definition_hash, ''), 'backfill chunk ' || target || ' ' || window_start::date || '..' || window_end::date
FROM etl2elt.backfill_chunks WHERE target = $1 AND status = 'done'
ORDER BY 3`, model)
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", model, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Build, error) {
		var b Build
		var def []byte
		if err := r.Scan(&b.From, &b.To, &b.At, &def, &b.Hash, &b.What); err != nil {
			return b, err
		}
		for _, t := range []*time.Time{b.From, b.To} {
			if t != nil {
				*t = t.UTC()
			}
		}
		if def != nil {
			var d Definition
			if err := json.Unmarshal(def, &d); err != nil {
				return b, err
			}
			b.Def = &d
		}
		return b, nil
	})
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", model, err)
	}
	return out, nil
}

// countRows counts a stale range's rows in the model's relation (-1 for a view, or a
// relation that is not there).
func countRows(ctx context.Context, pool *pgxpool.Pool, rel ident.Relation, m plan.Model, r StaleRange) (int64, error) {
	if m.Materialized == plan.MaterializedView {
		return -1, nil
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, rel.Quoted()).Scan(&exists); err != nil {
		return 0, fmt.Errorf("rows of %s: %w", rel, err)
	}
	if !exists {
		return -1, nil
	}
	sql := `SELECT count(*) FROM ` + rel.Quoted()
	var args []any
	if r.From != nil && r.To != nil && m.EventTime != "" {
		et := ident.Quote(m.EventTime)
		sql += ` WHERE ` + et + ` >= $1 AND ` + et + ` < $2`
		args = []any{*r.From, *r.To}
	}
	var n int64
	if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("rows of %s: %w", rel, err)
	}
	return n, nil
}
