-- Revenue and order count per UTC day and region: the ELT replacement of the legacy
-- ETL's legacy.daily_revenue.
select
    (ordered_at at time zone 'UTC')::date as day,
    region,
    count(*)::bigint as orders,
    sum(amount)::numeric(14, 2) as revenue
from staging.stg_orders
group by 1, 2
