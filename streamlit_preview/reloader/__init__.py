"""The in-pod supervisor: clone, run Streamlit, follow the branch on signed `/sync` calls."""
