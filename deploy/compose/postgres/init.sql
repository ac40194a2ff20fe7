-- Databases of the etl2elt compose stack, beside Temporal's own (created by the
-- temporal-admin-tools setup job): the ELT warehouse and the legacy reporting DB.
CREATE DATABASE warehouse;
CREATE DATABASE legacy;
