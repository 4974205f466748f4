"""REST API of the catalog: channels, categories, products, SKUs and prices (/api/v1/)."""
