import sys

from pcsim.cli import main

sys.exit(main())
