"""Run experiment presets over seeds; measured vs published table (see ganlab/reproduce.py; also `ganlab-reproduce`).

    python scripts/reproduce.py veegan_gan_ring --seeds 5 --jobs 2
    python scripts/reproduce.py pacgan_gan_ring pacgan2_ring --seeds 3 --budget 20000
"""

import sys

from ganlab.reproduce import main

if __name__ == "__main__":
    sys.exit(main())
