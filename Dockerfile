FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The service runs as an unprivileged user of its own; it owns only its working directory (where
# the embedded SQLite file would go) and its heartbeat file.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin rostersync \
    && install -d -o rostersync -g rostersync /var/lib/rostersync
WORKDIR /src
# What the package is built from, and nothing else (the benchmarks stay out: an optional part
# that `rostersync bench` runs from a source checkout). tests/test_install.py installs these
# same paths the same way.
COPY pyproject.toml README.md ./
COPY actors actors
COPY clever_client clever_client
COPY domain domain
COPY gateway gateway
COPY messaging messaging
COPY rostersync rostersync
COPY services services
COPY simulator simulator
COPY storage storage
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /var/lib/rostersync
USER rostersync
ENV HEARTBEAT_FILE=/var/lib/rostersync/heartbeat
ENTRYPOINT ["rostersync"]
CMD ["--help"]
