"""`python -m devcluster up|down|env|build` (what `scripts/cluster` runs)."""

import sys

from devcluster.cluster import main

sys.exit(main(sys.argv[1:]))
