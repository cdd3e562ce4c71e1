# One image for both fronts: the GitHub Action (entrypoint.py) and the preview pod (reloader).
# BASE_IMAGE: any Debian-based image with python3 and its venv module. The release publishes
# one image per PYTHON_VERSION (3.11, 3.12, 3.13); tests build on a stand-in from debootstrap
# (scripts/build-image --stand-in-base), because no registry is reachable there.
ARG PYTHON_VERSION=3.12
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-bookworm
FROM ${BASE_IMAGE}

# git: the reloader clones and fetches; tini: reaps git's children and forwards SIGTERM.
# apt's caches, documentation and man pages go in the same step (about 80 MB otherwise).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
      /usr/share/doc/* /usr/share/man/* /usr/share/info/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin preview

# A virtualenv of our own: Debian's python3 refuses `pip install` outside one (PEP 668), and
# the official image then keeps its own site-packages clean too.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# PIP_CERT: a CA bundle for builds behind a TLS-inspecting proxy (scripts/build-image passes
# the host's); an ARG, so nothing of it stays in the image's environment.
ARG PIP_CERT=
WORKDIR /opt/streamlit-preview

# Dependencies first, in their own layer: a change to our code does not reinstall them.
# The kubernetes client's byte code (about 50 MB) is dropped: only the action imports it,
# once per job, and the preview pod never does. So is pydeck's Jupyter bundle (23 MB): in
# Streamlit, st.pydeck_chart draws with Streamlit's own frontend.
COPY pyproject.toml ./
RUN python3 -m venv /opt/venv \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir --disable-pip-version-check ${PIP_CERT:+--cert "$PIP_CERT"} -r /tmp/requirements.txt \
 && find /opt/venv -depth -type d -name tests -path '*/site-packages/*/tests' -exec rm -rf {} + \
 && find /opt/venv/lib/python3*/site-packages/kubernetes -name __pycache__ -exec rm -rf {} + \
 && rm -rf /opt/venv/lib/python3*/site-packages/pydeck/nbextension/static \
 && rm -rf /root/.cache /tmp/requirements.txt

COPY README.md entrypoint.py reloader.py ./
COPY streamlit_preview ./streamlit_preview
RUN pip install --no-cache-dir --disable-pip-version-check ${PIP_CERT:+--cert "$PIP_CERT"} --no-deps . \
 && pip check \
 && python -c "import streamlit_preview.reloader.main, streamlit_preview.cli" \
 && rm -rf /root/.cache build *.egg-info

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
