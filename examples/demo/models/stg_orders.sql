-- One row per order: the latest landed version wins when an order arrives twice
-- (_etl_load numbers object loads in the order they ran; etl2elt.object_loads says
-- which object and when; NULLS LAST: on Redshift, rows loaded before _etl_load
-- existed have none).
select distinct on (order_id)
    order_id,
    customer_id,
    region,
    amount,
    ordered_at,
    _etl_load,
    _etl_loaded_at
from raw.orders
order by order_id, _etl_load desc nulls last, _etl_line desc
