"""The demo app of streamlit-preview: edit MESSAGE, commit, and watch the open tab follow."""

import numpy as np
import pandas as pd
import streamlit as st

MESSAGE = "Hello from the main branch"

st.set_page_config(page_title="streamlit-preview demo", page_icon="🔭")
st.title(MESSAGE)
st.caption("This page follows its branch: commit a change and it re-renders in place.")

points = st.slider("Points", min_value=10, max_value=500, value=100)
rng = np.random.default_rng(7)
frame = pd.DataFrame(rng.standard_normal((points, 2)).cumsum(axis=0), columns=["a", "b"])
st.line_chart(frame)
