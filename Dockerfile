# Sekimori container image: a static-ish release binary on a slim Debian, running as a non-root
# user, with the key folder and the SQLite folder as volumes.
#
#   docker build -t sekimori .
#   docker run -p 8080:8080 -e SEKIMORI_ISSUER=https://id.example.com \
#     -v sekimori-certs:/var/lib/sekimori/certs -v sekimori-data:/var/lib/sekimori/data sekimori
#
# Not built or run on the project's machines (they have no Docker engine); see docs/operations.md.

FROM rust:1-bookworm AS build
WORKDIR /src
# cmake/clang are needed by aws-lc-sys.
RUN apt-get update && apt-get install -y --no-install-recommends cmake clang && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY templates templates
COPY static static
COPY migrations migrations
# `sekimori --version` names the commit; the build context has no .git folder:
#   docker build --build-arg SEKIMORI_GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t sekimori .
ARG SEKIMORI_GIT_COMMIT=unknown
ENV SEKIMORI_GIT_COMMIT=$SEKIMORI_GIT_COMMIT
RUN cargo build --release --locked && strip target/release/sekimori

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/sekimori --create-home --uid 10001 sekimori
COPY --from=build /src/target/release/sekimori /usr/local/bin/sekimori
USER sekimori
WORKDIR /var/lib/sekimori
ENV SEKIMORI_BIND=0.0.0.0:8080 \
    SEKIMORI_KEYS_DIR=/var/lib/sekimori/certs \
    DATABASE_URL=sqlite:///var/lib/sekimori/data/sekimori.db?mode=rwc
VOLUME ["/var/lib/sekimori/certs", "/var/lib/sekimori/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["/usr/local/bin/sekimori"]
CMD ["serve"]
