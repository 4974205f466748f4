"""The surface: the root URLconf and the API's routes, the portal home and its one search box.
The top layer (docs/architecture.md, "Layers"): it may import every app; nothing imports it."""
