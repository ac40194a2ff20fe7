package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"

	"etl2elt/internal/access"
	"etl2elt/internal/cutover"
	"etl2elt/internal/plan"
)

// ConsumptionViews lists the consumption views of a domain and the relation each
// points at on either side, as the warehouse reads them. Pairs without a
// consumption view are left out.
func ConsumptionViews(p *plan.Plan, d plan.Domain) []cutover.View {
	var out []cutover.View
	for _, o := range d.Outputs {
		if o.Consumption == "" {
			continue
		}
		out = append(out, cutover.View{Name: o.Consumption, Legacy: o.Legacy.InWarehouse(p.Warehouse.Connection), ELT: o.ELT.Relation})
	}
	return out
}

// PreflightInput checks a domain before its migration starts.
type PreflightInput struct {
	Plan   *plan.Plan `json:"plan"`
	Domain string     `json:"domain"`
}

// PreflightCheck is one thing preflight looked at.
type PreflightCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// PreflightResult lists every check; Problems counts the failed ones. Views says
// where each consumption view points after preflight (legacy, normally).
type PreflightResult struct {
	Checks   []PreflightCheck  `json:"checks"`
	Problems int               `json:"problems"`
	Views    map[string]string `json:"views,omitempty"`
}

// Preflight checks what a migration relies on, all at once so that an operator
// fixes everything in one go: every connection the domain uses answers, every legacy
// relation exists on its connection and, as the warehouse reads it, every consumption
// view is new or points at legacy (a view already on ELT means the domain was cut
// over outside this migration). Missing consumption views are then created on
// legacy, in one transaction. ELT relations may not exist yet: the first pipeline run
// creates them, so they are reported, not required. Unreachable connections are
// retried (transient); the result's Problems are for the workflow to refuse.
func (a *Activities) Preflight(ctx context.Context, in PreflightInput) (*PreflightResult, error) {
	if in.Plan == nil {
		return nil, badInputError(errors.New("preflight: no plan"))
	}
	d, ok := in.Plan.Domain(in.Domain)
	if !ok {
		return nil, badInputError(fmt.Errorf("preflight: plan %s has no domain %q", in.Plan.Name, in.Domain))
	}
	res := &PreflightResult{Views: map[string]string{}}
	add := func(name string, ok bool, format string, args ...any) {
		res.Checks = append(res.Checks, PreflightCheck{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
		if !ok {
			res.Problems++
		}
	}
	wh := in.Plan.Warehouse.Connection
	conns := []string{wh}
	for _, o := range d.Outputs {
		for _, c := range []string{o.Legacy.Connection, o.ELT.Connection} {
			if !slices.Contains(conns, c) {
				conns = append(conns, c)
			}
		}
	}
	reachable := map[string]bool{}
	for _, c := range conns {
		pool, err := a.Conns.Get(ctx, c)
		if err == nil {
			err = pool.Ping(ctx)
		}
		if err != nil {
			var bad interface{ BadInput() bool }
			if errors.As(err, &bad) && bad.BadInput() {
				add("connection "+c, false, "%v", err)
				continue
			}
			return nil, fmt.Errorf("preflight: connection %s: %w", c, err) // transient: retried
		}
		reachable[c] = true
		add("connection "+c, true, "answers")
	}
	exists := func(conn, rel string) (bool, error) {
		pool, err := a.Conns.Get(ctx, conn)
		if err != nil {
			return false, err
		}
		var ok bool
		err = pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, rel).Scan(&ok)
		return ok, err
	}
	for _, o := range d.Outputs {
		if reachable[o.Legacy.Connection] {
			ok, err := exists(o.Legacy.Connection, o.Legacy.Relation)
			if err != nil {
				return nil, classify(fmt.Errorf("preflight: %s: %w", o.Legacy.Relation, err))
			}
			add("legacy relation "+o.Legacy.Relation, ok, "%s on connection %s", present(ok), o.Legacy.Connection)
		}
		if reachable[o.ELT.Connection] {
			ok, err := exists(o.ELT.Connection, o.ELT.Relation)
			if err != nil {
				return nil, classify(fmt.Errorf("preflight: %s: %w", o.ELT.Relation, err))
			}
			// Not a problem: the first pipeline run creates it.
			add("ELT relation "+o.ELT.Relation, true, "%s on connection %s%s", present(ok), o.ELT.Connection, map[bool]string{false: " (the first pipeline run creates it)"}[ok])
		}
	}
	if !reachable[wh] {
		return res, nil
	}
	pool, err := a.Conns.Get(ctx, wh)
	if err != nil {
		return nil, err
	}
	views := ConsumptionViews(in.Plan, d)
	var toCreate []cutover.View
	for _, v := range views {
		ok, err := exists(wh, v.Legacy)
		if err != nil {
			return nil, classify(fmt.Errorf("preflight: %s: %w", v.Legacy, err))
		}
		add("legacy as the warehouse reads it "+v.Legacy, ok, "%s in the warehouse (consumption view %s points here until the cutover)", present(ok), v.Name)
		viewExists, err := exists(wh, v.Name)
		if err != nil {
			return nil, classify(fmt.Errorf("preflight: %s: %w", v.Name, err))
		}
		if !viewExists {
			toCreate = append(toCreate, v)
			continue
		}
		where, err := cutover.Where(ctx, pool, v.Name)
		if err != nil {
			add("consumption view "+v.Name, false, "%v", err)
			continue
		}
		res.Views[v.Name] = where
		switch where {
		case v.Legacy:
			add("consumption view "+v.Name, true, "points at legacy (%s)", where)
		case v.ELT:
			add("consumption view "+v.Name, false, "already points at ELT (%s): the domain was cut over outside this migration; roll it back to %s first", where, v.Legacy)
		default:
			add("consumption view "+v.Name, false, "points at %s, neither legacy (%s) nor ELT (%s)", where, v.Legacy, v.ELT)
		}
	}
	if res.Problems > 0 {
		return res, nil
	}
	if len(toCreate) > 0 {
		if err := cutover.Switch(ctx, pool, d.Name, toCreate, cutover.Legacy); err != nil {
			return nil, classify(fmt.Errorf("preflight: create consumption views: %w", err))
		}
		for _, v := range toCreate {
			res.Views[v.Name] = v.Legacy
			add("consumption view "+v.Name, true, "created, pointing at legacy (%s)", v.Legacy)
		}
	}
	if in.Plan.Access != nil {
		names := make([]string, 0, len(views))
		for _, v := range views {
			names = append(names, v.Name)
		}
		ar, err := access.Apply(ctx, pool, in.Plan, names)
		var missing *access.MissingRoleError
		switch {
		case errors.As(err, &missing):
			add("access by layer", false, "%v", err)
		case err != nil:
			return nil, classify(fmt.Errorf("preflight: %w", err))
		default:
			detail := fmt.Sprintf("%d grants and revokes applied (loader, transformer, BI reader)", ar.Statements)
			for _, v := range slices.Sorted(maps.Keys(ar.Views)) {
				if cols := ar.Views[v]; len(cols) > 0 {
					detail += fmt.Sprintf("; %s without PII column(s) %s for the BI reader", v, strings.Join(cols, ", "))
				}
			}
			add("access by layer", true, "%s", detail)
		}
	}
	return res, nil
}

func present(ok bool) string {
	if ok {
		return "exists"
	}
	return "missing"
}

// SwitchViewsInput repoints a domain's consumption views.
type SwitchViewsInput struct {
	WarehouseConnection string         `json:"warehouse_connection"`
	Domain              string         `json:"domain"`
	Views               []cutover.View `json:"views"`
	// Side is legacy or elt.
	Side string `json:"side"`
}

// SwitchViewsResult says where every view points after the switch, read back from
// the catalog.
type SwitchViewsResult struct {
	Views      map[string]string `json:"views"`
	SwitchedAt time.Time         `json:"switched_at"`
}

// SwitchViews points every consumption view of the domain at one side in one
// transaction (grants kept; a view whose columns would change is refused, and nothing
// moves), then reads back where each view points.
func (a *Activities) SwitchViews(ctx context.Context, in SwitchViewsInput) (*SwitchViewsResult, error) {
	if in.Side != cutover.Legacy && in.Side != cutover.ELT {
		return nil, badInputError(fmt.Errorf("switch views: side %q: want legacy or elt", in.Side))
	}
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	activity.RecordHeartbeat(ctx, "switching "+in.Side)
	if err := cutover.Switch(ctx, pool, in.Domain, in.Views, in.Side); err != nil {
		return nil, classify(err)
	}
	res := &SwitchViewsResult{Views: map[string]string{}, SwitchedAt: time.Now().UTC()}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, v := range in.Views {
			where, err := cutover.Where(ctx, tx, v.Name)
			if err != nil {
				return err
			}
			res.Views[v.Name] = where
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("switch views: read back: %w", err)
	}
	return res, nil
}

// ViewTargets reads where each consumption view points now (read-only): the
// workflow's check after a switch that reported an error, which may have committed.
func (a *Activities) ViewTargets(ctx context.Context, in SwitchViewsInput) (*SwitchViewsResult, error) {
	pool, err := a.Conns.Get(ctx, in.WarehouseConnection)
	if err != nil {
		return nil, err
	}
	res := &SwitchViewsResult{Views: map[string]string{}, SwitchedAt: time.Now().UTC()}
	for _, v := range in.Views {
		where, err := cutover.Where(ctx, pool, v.Name)
		if err != nil {
			return nil, fmt.Errorf("where does %s point: %w", v.Name, err)
		}
		res.Views[v.Name] = where
	}
	return res, nil
}
