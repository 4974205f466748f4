from tests.world import BJ, World, north, world  # noqa: F401  (the orders tests' shared world)
