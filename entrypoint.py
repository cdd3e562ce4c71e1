"""Entry point of the GitHub Action (`runs.using: docker`): reads INPUT_* and GITHUB_*."""

import sys

from streamlit_preview.action import main

if __name__ == "__main__":
    sys.exit(main())
