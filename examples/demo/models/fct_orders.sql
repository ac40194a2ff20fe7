-- One row per order with its UTC order day: incremental by ordered_at (late orders
-- within the lookback are picked up by the next run), backfilled chunk by chunk.
select
    order_id,
    customer_id,
    region,
    amount,
    ordered_at,
    (ordered_at at time zone 'UTC')::date as order_day
from staging.stg_orders
