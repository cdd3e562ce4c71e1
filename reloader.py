"""Entry point of the in-pod supervisor: `python reloader.py [flags]` (see `--help`)."""

import sys

from streamlit_preview.reloader.main import main

if __name__ == "__main__":
    sys.exit(main())
