"""Wire schemas: the contract's shapes, separate from domain records and table rows."""
