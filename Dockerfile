FROM python:3.11-slim
WORKDIR /app
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
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["rostersync"]
