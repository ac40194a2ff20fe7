-- One row per order: the latest landed version wins when an order arrives twice.
select distinct on (order_id)
    order_id,
    customer_id,
    region,
    amount,
    ordered_at,
    _etl_object_key,
    _etl_loaded_at
from raw.orders
order by order_id, _etl_loaded_at desc, _etl_object_key desc
