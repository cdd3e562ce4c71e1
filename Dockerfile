# One image for both fronts: the GitHub Action (entrypoint.py) and the preview pod (reloader).
FROM python:3.12-slim-bookworm

# git: the reloader clones and fetches; tini: reaps git's children and forwards SIGTERM.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin preview

WORKDIR /opt/streamlit-preview
COPY pyproject.toml README.md entrypoint.py reloader.py ./
COPY streamlit_preview ./streamlit_preview
RUN pip install --no-cache-dir --disable-pip-version-check . \
 && python -c "import streamlit_preview.reloader.main, streamlit_preview.cli"

# The checkout lives in /workspace (an emptyDir in the pod); no dot-folders on the way,
# so Streamlit watches every module of the app.
RUN mkdir /workspace && chown preview:preview /workspace
ENV PREVIEW_WORKDIR=/workspace \
    PYTHONUNBUFFERED=1

# No USER line: GitHub runs Docker actions as the image's default user and they must be
# root to write GITHUB_OUTPUT. Preview pods run as uid 10001 through their securityContext
# (runAsNonRoot, no privilege escalation), which the rendered Deployment always sets.
EXPOSE 8501 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "/opt/streamlit-preview/reloader.py"]
