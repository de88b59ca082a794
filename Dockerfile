# shopml-server on the shipped bundle.
#   docker build -t shopml .
#   docker run -p 50051:50051 -p 9095:9095 -e SHOPML__AUTH__ADMIN_TOKEN=<secret> shopml
# It listens on 0.0.0.0, so it refuses to start without an admin token (or
# --insecure-open-beyond-loopback, which lets anyone reaching the port reload models).
# Mount another bundle (or a repository of versions, watched for new ones) at /srv/shopml/models.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY proto proto
COPY src src
COPY build.rs ./
COPY config config
COPY deploy/grafana deploy/grafana
COPY core core
COPY store store
COPY training training
COPY benches benches
# Only the server: polars and autodiff are not linked into it.
RUN cargo build --release --locked -p shopml-server --bin shopml-server

FROM debian:bookworm-slim
# CA certificates: bundles in object storage are fetched over HTTPS.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid, so Kubernetes can check runAsNonRoot (deploy/kubernetes).
RUN useradd --system --uid 10001 --user-group --no-create-home shopml
COPY --from=build /src/target/release/shopml-server /usr/local/bin/shopml-server
COPY models /srv/shopml/models
WORKDIR /srv/shopml
USER 10001:10001
ENV SHOPML__SERVER__LISTEN=0.0.0.0:50051 \
    SHOPML__SERVER__METRICS_LISTEN=0.0.0.0:9095 \
    SHOPML__LOG__FORMAT=json
EXPOSE 50051 9095
# Liveness and readiness over HTTP on the metrics port: /healthz, /readyz (gRPC health too).
ENTRYPOINT ["shopml-server"]
CMD ["--bundle", "/srv/shopml/models"]
