"""streamlit-preview: a live preview environment per pull request, updated in place."""

__version__ = "0.2.0"  # pyproject.toml says the same (a test keeps them equal)
