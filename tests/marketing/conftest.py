from tests.marketing.helpers import shop  # noqa: F401  (the marketing tests' shop over the shared world)
from tests.world import BJ, World, north, world  # noqa: F401  (the orders tests' shared world)
