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
	// Built is the fingerprint of the latest build ("" when never built, or built
	// before definitions were recorded); Builds counts the builds.
	Built  string
	Builds int
	// Changes lists what differs between the latest build's definition and the plan's.
	Changes []string
	Stale   []StaleRange
}

// Staleness reads the builds of every model of models (with their upstream models
// from the plan) from the control schema and returns, per model, the periods built by
// a definition other than the plan's, or while a model it reads held rows built by a
// definition other than the plan's (a change upstream makes its downstream periods
// stale too, until the upstream is rebuilt and then the downstream after it).
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
	timelines := map[string]timeline{}
	timelineOf := func(u plan.Model) (timeline, error) {
		if tl, ok := timelines[u.Name]; ok {
			return tl, nil
		}
		ub, err := load(u.Name)
		if err != nil {
			return nil, err
		}
		tl := currentTimeline(ub, DefinitionOf(u))
		timelines[u.Name] = tl
		return tl, nil
	}
	var out []Status
	for _, m := range models {
		mine, err := load(m.Name)
		if err != nil {
			return nil, err
		}
		cur := DefinitionOf(m)
		curHash := cur.Hash()
		rel := ident.Relation{Schema: m.Schema, Name: m.Name}
		st := Status{Model: m.Name, Relation: rel.String(), Materialized: m.Materialized, Current: curHash, Builds: len(mine)}
		if len(mine) > 0 {
			last := mine[len(mine)-1]
			st.Built = last.Hash
			if last.Def != nil {
				st.Changes = cur.Changes(*last.Def)
			}
		}
		type upstream struct {
			name string
			tl   timeline
		}
		var ups []upstream
		for _, u := range p.WithUpstream(m.Name) {
			if u.Name == m.Name {
				continue
			}
			tl, err := timelineOf(u)
			if err != nil {
				return nil, err
			}
			ups = append(ups, upstream{u.Name, tl})
		}
		whyCache := map[int][]string{}
		why := func(i int, b Build) []string {
			if w, ok := whyCache[i]; ok {
				return w
			}
			var w []string
			switch {
			case b.Def == nil:
				w = append(w, "built before definitions were recorded")
			case b.Hash != curHash:
				if ch := cur.Changes(*b.Def); len(ch) > 0 {
					w = append(w, ch...)
				} else {
					w = append(w, "another definition")
				}
			}
			if b.Def != nil && b.Def.Held {
				w = append(w, "trusted rows held back: they keep what earlier logic built (an override run rebuilds them)")
			}
			for _, u := range ups {
				if state, known := u.tl.at(b.At); known && !state.Current {
					w = append(w, "upstream "+u.name+": "+state.Why)
				}
			}
			whyCache[i] = w
			return w
		}
		var pt painter
		for i, b := range mine {
			pt.paint(i, b)
		}
		for _, seg := range pt.segs {
			w := why(seg.i, seg.b)
			if len(w) == 0 {
				continue
			}
			from, to := seg.bounds()
			if n := len(st.Stale); n > 0 && st.Stale[n-1].To != nil && from != nil && st.Stale[n-1].To.Equal(*from) && slices.Equal(st.Stale[n-1].Why, w) {
				st.Stale[n-1].To = to
				continue
			}
			st.Stale = append(st.Stale, StaleRange{From: from, To: to, Why: w, Rows: -1})
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

// timeline says, from each build's time on, whether every period of a model then held
// rows built by its current definition.
type timeline []currentAt

type currentAt struct {
	At      time.Time
	Current bool
	// Why says what differed, when not current.
	Why string
}

// currentTimeline replays a model's builds and records, after each, whether all its
// periods are then built by the definition of hash cur (none holding trusted rows of
// earlier logic).
func currentTimeline(builds []Build, cur Definition) timeline {
	curHash := cur.Hash()
	stale := func(b Build) bool { return b.Def == nil || b.Hash != curHash || b.Def.Held }
	pt := painter{stale: stale}
	out := make(timeline, 0, len(builds))
	why := ""
	for i, b := range builds {
		pt.paint(i, b)
		if stale(b) {
			switch {
			case b.Def == nil:
				why = "built before definitions were recorded"
			case b.Hash != curHash:
				why = strings.Join(cur.Changes(*b.Def), ", ")
			default:
				why = "trusted rows held back"
			}
		}
		st := currentAt{At: b.At, Current: pt.staleSegs == 0}
		if !st.Current {
			st.Why = why
		}
		out = append(out, st)
	}
	return out
}

// at is the model's state at t (known: it had a build by then).
func (tl timeline) at(t time.Time) (state currentAt, known bool) {
	i := sort.Search(len(tl), func(k int) bool { return tl[k].At.After(t) })
	if i == 0 {
		return currentAt{}, false
	}
	return tl[i-1], true
}

// Unbounded ends of a whole-relation build (a view, a table model) as times.
var (
	minTime = time.Time{}
	maxTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

type segment struct {
	from, to time.Time
	i        int // the build's index
	b        Build
}

// bounds are the segment's ends, nil where unbounded.
func (s segment) bounds() (from, to *time.Time) {
	if !s.from.Equal(minTime) {
		f := s.from
		from = &f
	}
	if !s.to.Equal(maxTime) {
		t := s.to
		to = &t
	}
	return from, to
}

// painter paints builds in time order onto disjoint segments sorted by start: each
// period ends with the build that wrote it last. A whole-relation build covers
// everything, and later windows cut into it. With stale set, it counts the segments
// whose build it says is stale. Each paint costs two binary searches and a copy.
type painter struct {
	segs      []segment
	stale     func(Build) bool
	staleSegs int
}

func (p *painter) paint(i int, b Build) {
	f, t := minTime, maxTime
	if b.From != nil && b.To != nil {
		f, t = *b.From, *b.To
	}
	if !f.Before(t) {
		return
	}
	segs := p.segs
	lo := sort.Search(len(segs), func(k int) bool { return segs[k].to.After(f) })
	hi := sort.Search(len(segs), func(k int) bool { return !segs[k].from.Before(t) })
	var repl []segment
	if lo < hi && segs[lo].from.Before(f) {
		left := segs[lo]
		left.to = f
		repl = append(repl, left)
	}
	repl = append(repl, segment{from: f, to: t, i: i, b: b})
	if lo < hi && segs[hi-1].to.After(t) {
		right := segs[hi-1]
		right.from = t
		repl = append(repl, right)
	}
	if p.stale != nil {
		for k := lo; k < hi; k++ {
			if p.stale(segs[k].b) {
				p.staleSegs--
			}
		}
		for _, r := range repl {
			if p.stale(r.b) {
				p.staleSegs++
			}
		}
	}
	p.segs = slices.Replace(segs, lo, hi, repl...)
}

// readBuilds reads a model's successful runs and done backfill chunks, oldest first.
func readBuilds(ctx context.Context, pool *pgxpool.Pool, model string) ([]Build, error) {
	rows, err := pool.Query(ctx, `
SELECT window_from, window_to, finished_at, definition, COALESCE(definition_hash, ''), 'run ' || run_id
FROM etl2elt.model_runs WHERE model = $1 AND status = 'succeeded'
UNION ALL
-- A chunk keeps the rows (and definition) of its last done run through later
-- failures and skips: built_at is that run's time (finished_at moves with attempts).
SELECT window_start, window_end, COALESCE(built_at, finished_at), definition, COALESCE(definition_hash, ''), 'backfill chunk ' || target || ' ' || window_start::date || '..' || window_end::date
FROM etl2elt.backfill_chunks WHERE target = $1 AND (status = 'done' OR definition IS NOT NULL)
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
	if m.EventTime != "" && (r.From != nil || r.To != nil) {
		et := ident.Quote(m.EventTime)
		var where []string
		if r.From != nil {
			args = append(args, *r.From)
			where = append(where, fmt.Sprintf(`%s >= $%d`, et, len(args)))
		}
		if r.To != nil {
			args = append(args, *r.To)
			where = append(where, fmt.Sprintf(`%s < $%d`, et, len(args)))
		}
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	var n int64
	if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("rows of %s: %w", rel, err)
	}
	return n, nil
}
