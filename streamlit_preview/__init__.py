"""streamlit-preview: a live preview environment per pull request, updated in place."""

__version__ = "0.1.0"
